"""Spatio-temporal shift (STSM, Yang, An, Zhang; arXiv 2112.02523, Mathematics 10(18):3290, 2022).

RECONSTRUCTION. No public code was found and the paper's body could not be read here (only
its abstract): the abstract says that STSM is plug-and-play, adds no parameters and no
computation, and that a spatio-temporal shift is a convolution with a sparse kernel. The
module below is the most direct reading of that, built on TSM's shift:

- channel groups move by one step along one axis each, zeros shifted in at the borders
  (a depthwise 3x3x3 convolution whose kernel, per channel, is a single 1 at the centre or
  at one of its six face neighbours: the "sparse kernel");
- time: ``C // temporal_div`` channels from frame t+1 and as many from t-1 (TSM's 1/8 each
  way, the proportion the TSM paper found best);
- space: ``C // spatial_div`` channels from each of the four neighbours (h+1, h-1, w+1,
  w-1); 1/16 each, so that the spatially shifted quarter equals the temporally shifted one
  and half of the channels stay in place, as much as TSM leaves untouched plus a quarter;
- the rest stays.
Every choice above is vbench's and can be changed by the arguments.

Zero parameters, zero multiply-adds: only copies (what fvcore sees is slicing and copies).
Written, like vbench's TSM shift, into an ``empty_like`` buffer with only the border slices
zeroed, not a zero-filled one.
"""

from __future__ import annotations

import torch
from torch import nn

from vbench.errors import VbenchError


def spatiotemporal_shift(x: torch.Tensor, num_frames: int, temporal_div: int = 8, spatial_div: int = 16) -> torch.Tensor:
    """Shift channel groups of ``x`` (N*T, C, H, W) along T, H and W; returns a new tensor."""
    nt, c, h, w = x.shape
    ft, fs = c // temporal_div, c // spatial_div
    v = x.view(nt // num_frames, num_frames, c, h, w)
    out = torch.empty_like(v)
    # time: [0, ft) from t+1, [ft, 2ft) from t-1
    out[:, :-1, :ft] = v[:, 1:, :ft]
    out[:, -1, :ft] = 0
    out[:, 1:, ft:2 * ft] = v[:, :-1, ft:2 * ft]
    out[:, 0, ft:2 * ft] = 0
    # space: four groups of fs channels, each from one neighbour
    s = 2 * ft
    out[..., s:s + fs, :-1, :] = v[..., s:s + fs, 1:, :]  # from h+1
    out[..., s:s + fs, -1, :] = 0
    s += fs
    out[..., s:s + fs, 1:, :] = v[..., s:s + fs, :-1, :]  # from h-1
    out[..., s:s + fs, 0, :] = 0
    s += fs
    out[..., s:s + fs, :, :-1] = v[..., s:s + fs, :, 1:]  # from w+1
    out[..., s:s + fs, :, -1] = 0
    s += fs
    out[..., s:s + fs, :, 1:] = v[..., s:s + fs, :, :-1]  # from w-1
    out[..., s:s + fs, :, 0] = 0
    s += fs
    out[:, :, s:] = v[:, :, s:]
    return out.view(nt, c, h, w)


class SpatioTemporalShift(nn.Module):
    """STSM's shift as a module for the trunk's ``pre`` slot (on the residual branch)."""

    def __init__(self, num_frames: int, temporal_div: int = 8, spatial_div: int = 16):
        super().__init__()
        if num_frames < 2:
            raise VbenchError(f"STSM shifts channels between neighbouring frames and needs at least 2 frames, "
                              f"got {num_frames}")
        if temporal_div < 1 or spatial_div < 1 or 2 / temporal_div + 4 / spatial_div > 1:
            raise VbenchError(f"STSM shifts 2/temporal_div + 4/spatial_div of the channels, which must not exceed "
                              f"all of them: got temporal_div={temporal_div}, spatial_div={spatial_div}")
        self.num_frames = num_frames
        self.temporal_div = temporal_div
        self.spatial_div = spatial_div

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return spatiotemporal_shift(x, self.num_frames, self.temporal_div, self.spatial_div)

    def extra_repr(self) -> str:
        return f"num_frames={self.num_frames}, temporal_div={self.temporal_div}, spatial_div={self.spatial_div}"
