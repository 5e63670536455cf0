"""A per-channel 3-tap filter along time, shared by EAN's learnable shift and BQN's MBPM.

``out[t] = w[:, 0] x[t-1] + w[:, 1] x[t] + w[:, 2] x[t+1]`` on folded frames
(N*T, C, H, W), with zeros (``pad="zeros"``) or the end frame repeated
(``pad="replicate"``) beyond the clip. The official codes permute to (N*H*W, C, T)
and run a depthwise ``conv1d``; three broadcast multiply-adds on the (N, T, C, H*W)
view give the same values without the two permuting copies and are the fastest of
the three formulations measured on the CPU (conv1d after permuting, grouped conv3d,
multiply-adds): benchmarks/ean_bqn_ops.py. fvcore counts these multiply-adds as
elementwise ops, not MACs (3 per output element).
"""

from __future__ import annotations

import torch


def temporal_conv3(x: torch.Tensor, weight: torch.Tensor, num_frames: int, pad: str = "zeros") -> torch.Tensor:
    """Filter ``x`` (N*T, C, H, W) along T with ``weight`` (C, 3); returns a new tensor."""
    nt, c, h, w = x.shape
    frames = x.reshape(nt // num_frames, num_frames, c, h * w)
    before, centre, after = (weight[:, k].reshape(c, 1) for k in range(3))
    out = frames * centre
    out[:, 1:].addcmul_(frames[:, :-1], before)
    out[:, :-1].addcmul_(frames[:, 1:], after)
    if pad == "replicate":
        out[:, :1].addcmul_(frames[:, :1], before)
        out[:, -1:].addcmul_(frames[:, -1:], after)
    elif pad != "zeros":
        raise ValueError(f"pad must be 'zeros' or 'replicate', got {pad!r}")
    return out.view(nt, c, h, w)
