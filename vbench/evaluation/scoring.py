"""Scoring a batch of multi-view clips: the one forward pass that evaluation and training's
validation share, so that a validation figure is made exactly as an eval figure is."""

from __future__ import annotations

import torch

from vbench.data.transforms import DeferredViews
from vbench.runtime.precision import autocast


def score_views(model: torch.nn.Module, video: torch.Tensor | list[DeferredViews], device: torch.device,
                dtype: torch.dtype, channels_last: bool = False, mean: tuple[float, ...] | None = None,
                std: tuple[float, ...] | None = None) -> torch.Tensor:
    """(B, V, C, T, H, W) clips -> (B, V, K) float32 scores on the CPU, views kept apart for fusion.

    ``DeferredViews`` (a dataset built with ``deferred_views``) are moved as uint8 frames
    and cut and normalised on ``device`` with ``mean``/``std``, to the same values the
    loader would have made."""
    if isinstance(video, list):
        if mean is None or std is None:
            raise ValueError("deferred views need the mean and std to normalise them with")
        flat = torch.cat([item.materialise(device, mean, std) for item in video])
        batch, views = len(video), video[0].views
    else:
        batch, views = video.shape[:2]
        flat = video.reshape(batch * views, *video.shape[2:]).to(device, non_blocking=True)
    if channels_last and flat.dim() == 5:
        flat = flat.contiguous(memory_format=torch.channels_last_3d)
    with torch.inference_mode(), autocast(device, dtype):
        scores = model(flat)
    if isinstance(scores, (tuple, list)):
        scores = scores[0]
    return scores.float().reshape(batch, views, -1).cpu()
