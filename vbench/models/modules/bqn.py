"""BQN's motion band-pass module (MBPM; Huang and Bors, WACV 2022, arXiv 2103.15584).

A separable spatio-temporal band-pass filter, trainable, as in guoxih/busy-quiet-net
(``src/bpf.py``): a depthwise Laplacian-of-Gaussian (LoG) kernel in space (reflect
padding), then a depthwise [-1, 2, -1] / 3 kernel in time. The LoG is the closed form
``-(1 / (pi s^4)) (1 - r^2 / (2 s^2)) exp(-r^2 / (2 s^2))`` on a k x k grid, divided by
its own sum, as the official code builds it. Both kernels are parameters (one per
channel) initialised to these values.

Two uses, two temporal modes:

- on the input (``over="frames"``): each segment brings 3 consecutive frames; the
  temporal kernel runs over them with stride 3, one busy frame per segment
  (``three_steps=True`` in the official code). vbench applies the temporal kernel
  first (the two commute), so the LoG runs on one frame per segment, not three;
- on a lateral connection (``over="segments"``): the temporal kernel runs over the
  segments with the end segments repeated (replicate padding), stride 1.

A static clip has no busy signal: the temporal kernel sums to zero.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from vbench.errors import InputShapeError
from vbench.models.modules.time_conv import temporal_conv3


def log_kernel(size: int, sigma: float) -> torch.Tensor:
    """The official normalised Laplacian-of-Gaussian kernel, (size, size)."""
    grid = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    r2 = grid.view(-1, 1) ** 2 + grid.view(1, -1) ** 2
    kernel = -(1 / (math.pi * sigma ** 4)) * (1 - r2 / (2 * sigma ** 2)) * torch.exp(-r2 / (2 * sigma ** 2))
    return kernel / kernel.sum()


class MotionBandPass(nn.Module):
    """The MBPM: LoG in space, [-1, 2, -1] / 3 in time, both per channel and trainable."""

    def __init__(self, channels: int, segments: int, kernel_size: int, sigma: float, over: str = "segments"):
        super().__init__()
        if over not in ("segments", "frames"):
            raise ValueError(f"over must be 'segments' or 'frames', got {over!r}")
        self.segments = segments
        self.over = over
        self.pad = (kernel_size - 1) // 2
        self.spatial = nn.Parameter(log_kernel(kernel_size, sigma).expand(channels, 1, -1, -1).clone())
        self.temporal = nn.Parameter(torch.tensor([-1.0, 2.0, -1.0]).div(3).expand(channels, 1, -1).clone())

    def spatial_filter(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W): the LoG with reflect padding."""
        h, w = x.shape[-2:]
        if self.pad >= min(h, w):
            raise InputShapeError(
                f"BQN's band-pass filter pads by {self.pad} but meets a {h}x{w} feature map: the input is too "
                "small (use at least 96x96)")
        padded = F.pad(x, (self.pad,) * 4, mode="reflect")
        return F.conv2d(padded, self.spatial, groups=x.shape[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``segments``: (N*S, C, H, W) -> same; ``frames``: (N, C, S, 3, H, W) -> (N*S, C, H, W)."""
        if self.over == "frames":
            # time first: both filters are linear and per channel, so they commute; the LoG
            # then filters one frame per segment instead of three (the official order filters
            # all three first: 3x the LoG's multiply-adds, the same values up to rounding)
            n, c, s, d, h, w = x.shape
            combined = torch.einsum("ncsdhw,cd->nschw", x, self.temporal[:, 0])
            return self.spatial_filter(combined.reshape(n * s, c, h, w))
        return temporal_conv3(self.spatial_filter(x), self.temporal[:, 0], self.segments, pad="replicate")

    def extra_repr(self) -> str:
        return f"channels={self.spatial.shape[0]}, kernel_size={self.spatial.shape[-1]}, over={self.over}"
