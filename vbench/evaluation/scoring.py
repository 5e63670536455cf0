"""Scoring a batch of multi-view clips: the one forward pass that evaluation and training's
validation share, so that a validation figure is made exactly as an eval figure is."""

from __future__ import annotations

import torch

from vbench.data.transforms import normalise
from vbench.runtime.precision import autocast


def score_views(model: torch.nn.Module, video: torch.Tensor, device: torch.device, dtype: torch.dtype,
                channels_last: bool = False, mean: tuple[float, ...] | None = None,
                std: tuple[float, ...] | None = None) -> torch.Tensor:
    """(B, V, C, T, H, W) clips -> (B, V, K) float32 scores on the CPU, views kept apart for fusion.

    uint8 clips (a dataset built with ``uint8_views``) are moved as uint8 and normalised on
    ``device`` with ``mean``/``std``, to the same values the loader would have made."""
    batch, views = video.shape[:2]
    flat = video.reshape(batch * views, *video.shape[2:]).to(device, non_blocking=True)
    if flat.dtype == torch.uint8:
        if mean is None or std is None:
            raise ValueError("uint8 views need the mean and std to normalise them with")
        flat = normalise(flat, mean, std)
    if channels_last and flat.dim() == 5:
        flat = flat.contiguous(memory_format=torch.channels_last_3d)
    with torch.inference_mode(), autocast(device, dtype):
        scores = model(flat)
    if isinstance(scores, (tuple, list)):
        scores = scores[0]
    return scores.float().reshape(batch, views, -1).cpu()
