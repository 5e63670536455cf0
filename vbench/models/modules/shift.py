"""Temporal shift (TSM, ICCV 2019): move a fraction of the channels one frame along time.

With ``fold = C // fold_div`` the first ``fold`` channels of frame t take frame t+1's
values (shift left, towards the past), the next ``fold`` take frame t-1's (shift right),
the rest stay; the frames shifted in from outside the clip are zeros. This is the
offline bidirectional shift of ``ops/temporal_shift.py`` in mit-han-lab/temporal-shift-module.
No parameters and no multiply-adds.

Speed: the official code fills a zero tensor and then copies the three channel groups;
writing into an ``empty_like`` buffer and zeroing only the two boundary frames gives the
same values with one memory pass less (benchmarks/shift_variants.py; docs/findings.md).
"""

from __future__ import annotations

import torch
from torch import nn


def temporal_shift(x: torch.Tensor, num_frames: int, fold_div: int = 8) -> torch.Tensor:
    """Shift ``x`` of shape (N*T, C, H, W) along T; returns a new tensor."""
    nt, c, h, w = x.shape
    fold = c // fold_div
    x = x.view(nt // num_frames, num_frames, c, h, w)
    out = torch.empty_like(x)
    out[:, :-1, :fold] = x[:, 1:, :fold]  # frame t sees t+1
    out[:, -1, :fold] = 0
    out[:, 1:, fold:2 * fold] = x[:, :-1, fold:2 * fold]  # frame t sees t-1
    out[:, 0, fold:2 * fold] = 0
    out[:, :, 2 * fold:] = x[:, :, 2 * fold:]
    return out.view(nt, c, h, w)


class TemporalShift(nn.Module):
    """The shift as a module for the trunk's ``pre`` slot (residual shift)."""

    def __init__(self, num_frames: int, fold_div: int = 8):
        super().__init__()
        self.num_frames = num_frames
        self.fold_div = fold_div

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return temporal_shift(x, self.num_frames, self.fold_div)

    def extra_repr(self) -> str:
        return f"num_frames={self.num_frames}, fold_div={self.fold_div}"
