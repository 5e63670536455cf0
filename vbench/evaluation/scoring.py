"""Scoring a batch of multi-view clips: the one forward pass that evaluation and training's
validation share, so that a validation figure is made exactly as an eval figure is."""

from __future__ import annotations

import torch

from vbench.runtime.precision import autocast


def score_views(model: torch.nn.Module, video: torch.Tensor, device: torch.device, dtype: torch.dtype,
                channels_last: bool = False) -> torch.Tensor:
    """(B, V, C, T, H, W) clips -> (B, V, K) float32 scores on the CPU, views kept apart for fusion."""
    batch, views = video.shape[:2]
    flat = video.reshape(batch * views, *video.shape[2:]).to(device, non_blocking=True)
    if channels_last and flat.dim() == 5:
        flat = flat.contiguous(memory_format=torch.channels_last_3d)
    with torch.inference_mode(), autocast(device, dtype):
        scores = model(flat)
    if isinstance(scores, (tuple, list)):
        scores = scores[0]
    return scores.float().reshape(batch, views, -1).cpu()
