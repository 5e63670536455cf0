"""What a resumed run needs, in one object saved after every epoch."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from vbench.runtime.storage import atomic_torch_save
from vbench.training.step import TrainingStep


@dataclass
class TrainingState:
    """The network, its optimiser, schedule and loss scaler, the training method's own state
    (DREAL's critic), the RNG and the history: restoring it continues the run exactly where
    an uninterrupted run would be."""

    model: nn.Module  # the plain model (not its DDP wrapper): its state dict keys are the model's own
    optimizer: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    step: TrainingStep
    history: list[dict] = field(default_factory=list)
    epoch: int = -1  # the last finished epoch

    def save(self, path: str | Path, **about) -> None:
        """Write the state and ``about`` (settings, provenance, fingerprint) atomically."""
        atomic_torch_save({"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                           "schedule": self.schedule.state_dict(), "scaler": self.scaler.state_dict(),
                           "dreal": self.step.state_dict(),  # the training method's state (key kept from DREAL)
                           "rng": _rng_state(), "history": self.history, "epoch": self.epoch, **about}, path)

    def restore(self, saved: dict) -> None:
        """Load a saved state into this one (the objects stay the same ones)."""
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.schedule.load_state_dict(saved["schedule"])
        self.scaler.load_state_dict(saved["scaler"])
        if saved.get("dreal"):
            self.step.load_state_dict(saved["dreal"])
        _set_rng_state(saved["rng"])
        self.history, self.epoch = saved["history"], saved["epoch"]


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
