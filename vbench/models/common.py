"""Helpers several model files share: a checkpoint filter for the TSM code base and the
input checks whose one-line errors tell a user what a model needs."""

from __future__ import annotations

import re

import torch
from torch import nn

from vbench.errors import InputShapeError, VbenchError


def tsm_codebase_filter(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Map a checkpoint of the TSM code base (TSN or TSM) to vbench's keys.

    Official keys: ``base_model.layer1.0.conv1.net.weight`` (the shift wraps conv1 as
    ``.net``), ``new_fc.weight``, or ``base_model.fc.weight`` when trained without
    dropout. vbench's: ``layer1.0.conv1.weight``, ``head.fc.weight``. Keys already in
    vbench's form pass through unchanged.
    """
    out = {}
    for key, value in state_dict.items():
        key = key.removeprefix("base_model.")
        key = key.replace(".net.", ".")
        key = re.sub(r"^(new_fc|fc)\.", "head.fc.", key)
        out[key] = value
    return out


def require_motion_frames(num_frames: int, method: str) -> None:
    """One line for a motion method built on a single frame."""
    if num_frames < 2:
        raise VbenchError(f"{method} needs at least 2 frames (its motion branch differences adjacent frames), "
                          f"got {num_frames}")


def check_video_input(x: torch.Tensor, min_frames: int = 1, min_size: int = 1, why: str = "") -> None:
    """One clear error for an input a 3D network cannot take."""
    if x.dim() != 5:
        raise InputShapeError(f"expected a video batch (N, C, T, H, W), got a tensor of shape {tuple(x.shape)}")
    _, _, t, h, w = x.shape
    if t < min_frames:
        raise InputShapeError(f"this model needs at least {min_frames} frames, the input has {t}{why}")
    if min(h, w) < min_size:
        raise InputShapeError(f"this model needs frames of at least {min_size}x{min_size} pixels, "
                              f"the input has {h}x{w}")
