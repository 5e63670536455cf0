"""vbench's one training recipe, the same for every method.

Papers in this field compare accuracies obtained with different recipes; vbench trains
every model with this one, so that a difference is the architecture's. The defaults are
the TSM code base's Something-Something recipe (mit-han-lab/temporal-shift-module,
``main.py`` and ``scripts/``), with a cosine schedule and a linear warm-up instead of its
step decay:

=================  ==========================================================
optimizer          SGD, momentum 0.9, weight decay 5e-4 on weights; none on
                   biases and norm parameters (TSM's ``get_optim_policies``)
learning rate      0.005 for the default global batch of 8 clips (scale it linearly
                   with the batch: TSM fine-tunes from ImageNet with 0.01 for 64);
                   cosine decay to 0 over all steps. From scratch, 0.01 at batch 8
                   made the logits of tsm_r18 on the synthetic benchmark blow up to
                   13 within 30 steps; 0.005 trains (measured)
warm-up            linear from 0 over ``warmup_epochs`` (default 1; at most a
                   third of the run)
gradient clip      global norm 20 (TSM's ``--clip-gradient 20``)
dropout            the model's own (0.5 before the classifier of trunk models)
loss               cross-entropy (label smoothing 0)
sampling           TSN segments: one random frame in each of T segments
augmentation       multi-scale crop (scales 1, .875, .75, .66 of the short side)
                   and horizontal flip as each dataset's usual recipe has it
                   (Something-Something, Jester: none, as TSM; synthetic: flip
                   with the left/right labels swapped)
validation         the test split each epoch, 1 clip x 1 centre crop
=================  ==========================================================
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch


@dataclass(frozen=True)
class Recipe:
    lr: float = 0.005
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_epochs: float = 1.0
    clip_grad_norm: float = 20.0
    label_smoothing: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def make_optimizer(model: torch.nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """SGD with weight decay on weight tensors only (biases and norm scales/shifts have 1 dim)."""
    decay, no_decay = [], []
    for parameter in model.parameters():
        if parameter.requires_grad:
            (decay if parameter.dim() > 1 else no_decay).append(parameter)
    groups = [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum)


def make_schedule(optimizer: torch.optim.Optimizer, recipe: Recipe, steps_per_epoch: int,
                  epochs: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up, then cosine decay to zero; stepped once per optimisation step."""
    total = max(1, steps_per_epoch * epochs)
    warmup = min(int(recipe.warmup_epochs * steps_per_epoch), total // 3)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
