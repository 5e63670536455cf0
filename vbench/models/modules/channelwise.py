"""Channel-wise temporal operators shared by the motion-modelling family (TEA, STM).

- ``ChannelwiseTemporalConv``: a depthwise temporal convolution of kernel 3 on folded
  frames ``(N*T, C, H, W)``; each channel mixes frames t-1, t, t+1 with its own three
  weights, zeros outside the clip. The same function as the official codes'
  ``nn.Conv1d(C, C, 3, padding=1, groups=C)`` on a ``(N*H*W, C, T)`` view (TEA's
  ``ShiftModule``, STM's CSTM), with the same weight shape ``(C, 1, 3)``.
- ``temporal_difference``: ``a[t+1] - b[t]`` for t < T-1 and zeros for the last frame,
  the feature-level motion of TEA's ME and STM's CMM.

Speed: the Conv1d formulation needs two full permute-and-copy passes around the
convolution; three multiply-adds over shifted views of the unpermuted tensor give the same
values several times faster on the CPU, most on the large early maps, and faster than a
depthwise Conv3d or Conv2d over a transposed view (benchmarks/motion_ops.py; figures in
docs/findings.md). fvcore
sees the multiply-adds as elementwise ops (``mul`` and ``addcmul_``, about 3 per element),
so vbench reports them in ``elementwise_gops`` and not in ``gflops``; they are the same
arithmetic as the official Conv1d's 3 MACs per element (0.07 GMACs in tea_r50, 0.05 in
stm_r50 at 8 x 224 x 224).
"""

from __future__ import annotations

import torch
from torch import nn


def channelwise_temporal_conv(x: torch.Tensor, weight: torch.Tensor, num_frames: int) -> torch.Tensor:
    """``y[t] = w0 * x[t-1] + w1 * x[t] + w2 * x[t+1]`` per channel; ``weight`` is (C, 1, 3)."""
    nt, c, h, w = x.shape
    frames = x.view(nt // num_frames, num_frames, c, h, w)
    before, centre, after = (k.view(c, 1, 1) for k in weight.view(c, 3).unbind(1))
    out = frames * centre
    out[:, 1:].addcmul_(frames[:, :-1], before)
    out[:, :-1].addcmul_(frames[:, 1:], after)
    return out.view(nt, c, h, w)


class ChannelwiseTemporalConv(nn.Module):
    """Depthwise temporal conv (kernel 3, zero padding) on folded frames; weight (C, 1, 3).

    Starts as the identity (centre tap 1); ``shift_init`` sets the official codes'
    shift-like starts.
    """

    def __init__(self, channels: int, num_frames: int):
        super().__init__()
        self.num_frames = num_frames
        self.weight = nn.Parameter(torch.zeros(channels, 1, 3))
        self.weight.data[:, 0, 1] = 1

    def shift_init(self, from_next: slice, from_previous: slice) -> None:
        """Channels ``from_next`` start as a copy of frame t+1, ``from_previous`` of t-1, the rest as t."""
        with torch.no_grad():
            self.weight.zero_()
            self.weight[:, 0, 1] = 1
            self.weight[from_next] = torch.tensor([0.0, 0.0, 1.0]).view(1, 3)
            self.weight[from_previous] = torch.tensor([1.0, 0.0, 0.0]).view(1, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channelwise_temporal_conv(x, self.weight, self.num_frames)

    def extra_repr(self) -> str:
        return f"channels={self.weight.shape[0]}, num_frames={self.num_frames}"


def temporal_difference(later: torch.Tensor, earlier: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Folded ``later[t+1] - earlier[t]`` for t < T-1; the last frame of every clip gets zeros."""
    nt = later.shape[0]
    shape = (nt // num_frames, num_frames, *later.shape[1:])
    a, b = later.view(shape), earlier.view(shape)
    out = later.new_empty(shape)
    out[:, :-1] = a[:, 1:] - b[:, :-1]
    out[:, -1] = 0
    return out.view(later.shape)
