"""Clips made of segments of consecutive frames (EAN: 5 a segment, BQN: 3).

Such models read S segments of k consecutive frames each; vbench passes them as one clip
(N, C, T, H, W) with T = k S, segment-major (frames 0..k-1 are segment 0, ...), the
order in which the official loaders stack them.
"""

from __future__ import annotations

import torch

from vbench.errors import InputShapeError


def split_segments(x: torch.Tensor, segments: int, per_segment: int, method: str) -> torch.Tensor:
    """(N, C, k S, H, W) -> a (N, C, S, k, H, W) view, with one clear error for a clip of another length."""
    if x.dim() != 5:
        raise InputShapeError(f"expected a video batch (N, C, T, H, W), got a tensor of shape {tuple(x.shape)}")
    n, c, t, h, w = x.shape
    frames = segments * per_segment
    if t != frames:
        raise InputShapeError(
            f"this {method} reads {segments} segments of {per_segment} frames ({frames} frames) but the input has "
            f"{t}: create it with num_frames={t} if {t} is a multiple of {per_segment}")
    return x.view(n, c, segments, per_segment, h, w)
