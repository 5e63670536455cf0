"""What every attention module of the zoo shares: apply a map, let it be observed or removed.

A module that rescales features by an attention map it computes (ECA's channel gate,
TEA's motion excitation, an SE block...) derives from ``AttentionModule`` and ends its
forward with ``self.apply_attention(features, weights)``. That gives training methods
such as DREAL two handles without knowing the module:

- observers (``observe_attention``) see every map as it is applied;
- ``attention_enabled = False`` removes the attention: the module returns its features
  unchanged (for residual excitation, ``x + x * a`` becomes ``x``), which is how the
  contribution of one module is measured.

Neither changes the module's parameters, outputs when enabled, or cost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

Observer = Callable[["AttentionModule", torch.Tensor], None]


class AttentionModule(nn.Module):
    attention_enabled: bool = True
    _attention_observer: Observer | None = None

    def apply_attention(self, features: torch.Tensor, weights: torch.Tensor, residual: bool = False) -> torch.Tensor:
        """``features * weights`` (``features + features * weights`` when ``residual``)."""
        if not self.attention_active(weights):
            return features
        scaled = features * weights
        return features + scaled if residual else scaled

    def attention_active(self, weights: torch.Tensor) -> bool:
        """Show ``weights`` to the observer; False when the attention is removed (return the input).

        For modules that apply their map in a form of their own (a part of the frames, a
        fused expression): they call this, and skip the scaling when it returns False.
        """
        if self._attention_observer is not None:
            self._attention_observer(self, weights)
        return self.attention_enabled


def attention_modules(model: nn.Module) -> list[tuple[str, AttentionModule]]:
    """The attention modules of a model, in the order the forward pass meets them (module order)."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, AttentionModule)]


@contextmanager
def observe_attention(model: nn.Module, observer: Observer) -> Iterator[None]:
    modules = [m for _, m in attention_modules(model)]
    for m in modules:
        m._attention_observer = observer
    try:
        yield
    finally:
        for m in modules:
            m._attention_observer = None


@contextmanager
def attention_removed(module: AttentionModule) -> Iterator[None]:
    previous = module.attention_enabled
    module.attention_enabled = False
    try:
        yield
    finally:
        module.attention_enabled = previous
