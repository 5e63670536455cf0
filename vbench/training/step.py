"""One optimisation step of the shared recipe, and the hook a training method changes it by.

Plain training is ``TrainingStep``: forward, cross-entropy, update. A training method
(DREAL) subclasses it and overrides the hooks: what the forward pass returns beside the
logits, a loss added to the cross-entropy, and its own update after the network's. The
engine calls the hooks and never asks which method it is running.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from vbench.runtime.precision import autocast
from vbench.training.recipe import Recipe


class TrainingStep:
    """Plain training: the model's logits, cross-entropy with the recipe's label smoothing."""

    def forward(self, model: nn.Module, video: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """The logits, and what the other hooks need of this pass (nothing here)."""
        return model(video), None

    def extra_loss(self, context: Any) -> torch.Tensor | None:
        """A loss added to the cross-entropy (None: none)."""
        return None

    def after_update(self, model: nn.Module, video: torch.Tensor, labels: torch.Tensor, logits: torch.Tensor,
                     context: Any) -> dict[str, float]:
        """The method's own update once the network's is done; figures for the progress line."""
        return {}

    def state_dict(self) -> dict | None:
        return None

    def load_state_dict(self, state: dict) -> None:
        pass


def optimise(step: TrainingStep, wrapped: nn.Module, model: nn.Module, video: torch.Tensor, labels: torch.Tensor,
             optimizer: torch.optim.Optimizer, schedule, scaler: torch.amp.GradScaler, recipe: Recipe,
             dtype: torch.dtype) -> tuple[float, dict[str, float]]:
    """One step: forward under autocast, loss, scaled backward, clipped update, the method's hook.
    ``wrapped`` is the model as it runs (DDP or not), ``model`` the plain one. Returns the
    cross-entropy and the hook's figures."""
    with autocast(video.device, dtype):
        logits, context = step.forward(wrapped, video)
        loss = F.cross_entropy(logits.float(), labels, label_smoothing=recipe.label_smoothing)
        extra = step.extra_loss(context)
        total = loss + extra if extra is not None else loss
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(total).backward()
    scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.clip_grad_norm)
    scaler.step(optimizer)
    scaler.update()
    schedule.step()
    return loss.item(), step.after_update(wrapped, video, labels, logits, context)
