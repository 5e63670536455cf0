"""Video heads: what turns folded per-frame features into clip logits.

A head is built by ``build_head(kind, in_features, num_classes, num_frames, **options)``.
Method files register other kinds with ``@register_head("tcp")`` so that any trunk
model can take them (``create_model("tsm_r50", head="tcp")``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from vbench.errors import VbenchError

HeadBuilder = Callable[..., nn.Module]
_HEADS: dict[str, HeadBuilder] = {}


def register_head(kind: str) -> Callable[[HeadBuilder], HeadBuilder]:
    def decorate(builder: HeadBuilder) -> HeadBuilder:
        _HEADS[kind] = builder
        return builder

    return decorate


def build_head(kind: str, in_features: int, num_classes: int, num_frames: int, **options: Any) -> nn.Module:
    if kind not in _HEADS:
        from vbench.models.registry import _load_model_files

        _load_model_files()  # method files register their heads when imported
    if kind not in _HEADS:
        raise VbenchError(f"unknown head '{kind}'; known heads: {', '.join(sorted(_HEADS))}")
    return _HEADS[kind](in_features, num_classes, num_frames, **options)


class ConsensusHead(nn.Module):
    """TSN's head: per-frame global average pool, dropout, fc, then the mean over frames.

    The order (fc on every frame, then the average of the frame scores) is the official
    TSN/TSM code's (``ops/models.py``: ``new_fc`` then ``ConsensusModule('avg')``). At
    inference it equals the fc of the averaged features; in training each frame gets its
    own dropout mask, as in the official code. The fc starts as N(0, 0.001), bias 0.
    """

    def __init__(self, in_features: int, num_classes: int, num_frames: int, dropout: float = 0.5):
        super().__init__()
        self.num_frames = num_frames
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(in_features, num_classes)
        self.init_weights()

    def init_weights(self) -> None:
        nn.init.normal_(self.fc.weight, 0.0, 0.001)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)  # (N*T, C)
        x = self.fc(self.dropout(x))
        return x.view(-1, self.num_frames, x.shape[-1]).mean(dim=1)


@register_head("consensus")
def consensus_head(in_features: int, num_classes: int, num_frames: int, dropout: float = 0.5) -> nn.Module:
    return ConsensusHead(in_features, num_classes, num_frames, dropout)


class ClipPoolHead(nn.Module):
    """Average the folded features over T x H x W, then dropout and one fc a clip."""

    def __init__(self, in_features: int, num_classes: int, num_frames: int, dropout: float = 0.5):
        super().__init__()
        self.num_frames = num_frames
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(x, 1).view(-1, self.num_frames, x.shape[1]).mean(dim=1)
        return self.fc(self.dropout(x))


@register_head("clip_pool")
def clip_pool_head(in_features: int, num_classes: int, num_frames: int, dropout: float = 0.5) -> nn.Module:
    return ClipPoolHead(in_features, num_classes, num_frames, dropout)


class ClipHead(nn.Module):
    """Dropout and a linear classifier on one clip feature (the official ``new_fc``)."""

    def __init__(self, in_features: int, num_classes: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(in_features, num_classes)
        nn.init.normal_(self.fc.weight, 0.0, 0.001)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(x))
