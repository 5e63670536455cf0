"""DREAL: Deep Reinforced Attention Learning (Li and Chen, ECCV 2020, arXiv 2007.06156).

A RECONSTRUCTION. The paper's abstract (and the methods page) give the idea; its body
and code could not be found, so every detail below is vbench's choice, with its reason.

What the abstract fixes:
- a meta-critic network, recurrent, evaluates the quality of the attention maps of every
  attention module of the network being trained;
- the reward of a module is the relative gain in final recognition performance that its
  attention brings, and it is discrete, hence a reinforcement-learning formulation;
- the attention modules (actors) and the critic are optimised alternately;
- the critic is used in training only.

vbench's choices:
- Attention modules are the model's ``AttentionModule`` instances (ECA, TEA's ME, ...),
  observed through ``apply_attention``; "removing" a module's attention makes it return
  its input (identity), the natural meaning of "with it removed".
- Critic input: one step per module, in forward order. A map of any shape is summarised
  as a fixed-length descriptor: 32 values from adaptive average pooling of the flattened
  map, plus its mean, standard deviation, minimum and maximum (36 numbers per sample).
  The critic is an LSTM (hidden 64) over those steps with a linear value head: its
  output at step j is the predicted reward of module j, seen in the context of the
  modules before it (the "recurrent critic").
- Reward (discrete, per sample): for a module j, ``sign(p_with - p_without_j)`` where p is
  the softmax probability of the true class with all attention, and with module j's
  attention removed; ties count 0. Its batch mean is the relative gain in recognition
  each sample credits to the module. The sign keeps the reward discrete as the paper's
  is, and makes it scale-free across modules and training stages.
- Cost: one extra forward pass per step for one module drawn at random (uniformly), not
  one per module: the reward of every module is estimated over many steps, and the
  training cost stays at about 1.3x plain training (no gradient in the extra pass).
- Alternation: each step first updates the network with ``cross-entropy - beta * mean
  critic value`` (the attention modules are pushed towards maps the critic rates well;
  the critic's own parameters are not updated there), then updates the critic with the
  squared error between its value for the sampled module and that module's reward,
  on detached maps. beta = 0.1, critic Adam with learning rate 1e-3.

A DREAL-trained model is the plain model: the critic is not part of it, so it profiles
and loads exactly like its plain counterpart.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from vbench.errors import VbenchError
from vbench.models.attention import AttentionModule, attention_modules, attention_removed, observe_attention
from vbench.training.step import TrainingStep

DESCRIPTOR = 32


@contextmanager
def running_statistics_frozen(model: nn.Module) -> Iterator[None]:
    """Batch norm layers keep normalising with batch statistics but stop updating their running ones."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    saved = [(m.momentum, m.num_batches_tracked.clone()) for m in norms]
    for m in norms:
        m.momentum = 0.0  # running = (1 - 0) * running + 0 * batch
    try:
        yield
    finally:
        for m, (momentum, tracked) in zip(norms, saved):
            m.momentum = momentum
            m.num_batches_tracked.copy_(tracked)


def describe_map(weights: torch.Tensor) -> torch.Tensor:
    """(N, ...) attention map -> (N, DESCRIPTOR + 4) fixed-length descriptor."""
    flat = weights.float().flatten(1)
    pooled = F.adaptive_avg_pool1d(flat.unsqueeze(1), DESCRIPTOR).squeeze(1)
    stats = torch.stack([flat.mean(1), flat.std(1, unbiased=False), flat.amin(1), flat.amax(1)], dim=1)
    return torch.cat([pooled, stats], dim=1)


class MetaCritic(nn.Module):
    """A recurrent critic: an LSTM over the modules' map descriptors, one value per module."""

    def __init__(self, hidden: int = 64):
        super().__init__()
        self.lstm = nn.LSTM(DESCRIPTOR + 4, hidden, batch_first=True)
        self.value = nn.Linear(hidden, 1)

    def forward(self, descriptors: torch.Tensor) -> torch.Tensor:
        """(N, modules, D) -> (N, modules) predicted rewards."""
        states, _ = self.lstm(descriptors)
        return self.value(states).squeeze(-1)


def discrete_reward(p_with: torch.Tensor, p_without: torch.Tensor) -> torch.Tensor:
    """Per-sample reward of a module: +1 if its attention raised the true-class probability, -1 if it lowered it."""
    return torch.sign(p_with - p_without)


def true_class_probability(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return logits.float().softmax(dim=1).gather(1, labels.view(-1, 1)).squeeze(1)


@dataclass
class DrealStep:
    critic_loss: float
    mean_reward: float
    module: str


class Dreal(TrainingStep):
    """Holds the critic and does DREAL's part of each training step (see module docstring):
    the forward pass keeps the attention maps, the actor loss is added to the cross-entropy,
    and the critic is fitted after the network's update."""

    def __init__(self, model: nn.Module, *, beta: float = 0.1, critic_lr: float = 1e-3, seed: int = 0,
                 device: torch.device | str = "cpu"):
        self.modules = attention_modules(model)
        if not self.modules:
            raise VbenchError("--dreal needs a model with attention modules (ECA, TEA's motion excitation, ...); "
                              "this one has none")
        self.beta = beta
        self.critic = MetaCritic().to(device)
        self.optimizer = torch.optim.Adam(self.critic.parameters(), lr=critic_lr)
        self.random = random.Random(seed)
        self._maps: list[torch.Tensor] = []

    def _record(self, module: AttentionModule, weights: torch.Tensor) -> None:
        self._maps.append(weights)

    def forward(self, model: nn.Module, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's logits and the stacked map descriptors (N, modules, D), maps kept in the graph."""
        self._maps = []
        with observe_attention(model, self._record):
            logits = model(inputs)
        if len(self._maps) != len(self.modules):
            raise RuntimeError(f"DREAL saw {len(self._maps)} attention maps for {len(self.modules)} modules")
        batch = logits.shape[0]
        return logits, torch.stack([self._per_clip(describe_map(m), batch) for m in self._maps], dim=1)

    @staticmethod
    def _per_clip(described: torch.Tensor, batch: int) -> torch.Tensor:
        """Descriptors of one module for each clip: frame-folded maps (N*T, ...) are averaged over their
        frames; a map shared by the whole batch (1, ...) is the same for every clip."""
        rows = described.shape[0]
        if rows == 1:
            return described.expand(batch, -1)
        if rows % batch:
            raise RuntimeError(f"an attention map of {rows} rows does not divide into {batch} clips")
        return described.view(batch, rows // batch, -1).mean(1)

    def actor_loss(self, descriptors: torch.Tensor) -> torch.Tensor:
        """-beta * mean critic value: the network's extra loss (critic weights not updated by it)."""
        for p in self.critic.parameters():
            p.requires_grad_(False)
        try:
            return -self.beta * self.critic(descriptors).mean()
        finally:
            for p in self.critic.parameters():
                p.requires_grad_(True)

    def critic_step(self, model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, logits: torch.Tensor,
                    descriptors: torch.Tensor) -> DrealStep:
        """Reward one randomly drawn module and fit the critic's value for it."""
        index = self.random.randrange(len(self.modules))
        name, module = self.modules[index]
        # same mode as the main pass (BN normalises with the batch's statistics), but the
        # running statistics must not see this extra pass
        with torch.no_grad(), attention_removed(module), running_statistics_frozen(model):
            logits_without = model(inputs)
        reward = discrete_reward(true_class_probability(logits.detach(), labels),
                                 true_class_probability(logits_without, labels))
        values = self.critic(descriptors.detach())[:, index]
        loss = F.mse_loss(values, reward)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return DrealStep(loss.item(), reward.mean().item(), name)

    def extra_loss(self, descriptors: torch.Tensor) -> torch.Tensor:
        return self.actor_loss(descriptors)

    def after_update(self, model: nn.Module, video: torch.Tensor, labels: torch.Tensor, logits: torch.Tensor,
                     descriptors: torch.Tensor) -> dict[str, float]:
        step = self.critic_step(model, video, labels, logits, descriptors)
        return {"critic_loss": step.critic_loss, "reward": step.mean_reward}

    def state_dict(self) -> dict:
        return {"critic": self.critic.state_dict(), "optimizer": self.optimizer.state_dict(),
                "random": self.random.getstate()}

    def load_state_dict(self, state: dict) -> None:
        self.critic.load_state_dict(state["critic"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.random.setstate(state["random"])
