"""Batch norm over the global batch of all processes, on GPUs and on CPUs.

torch's ``SyncBatchNorm`` runs on GPUs only; CPU processes (gloo) would each normalise
with their own share of the batch, so N processes would not train like one. On the CPU
vbench swaps in ``GlooSyncBatchNorm``: the batch mean and variance are all-reduced
through ``torch.distributed.nn`` (differentiable, so gradients flow across processes as
in torch's version). State dict keys are unchanged, so checkpoints stay plain.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


class GlooSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        dims = [0] + list(range(2, x.dim()))
        count = torch.tensor([x.numel() / x.shape[1]], dtype=x.dtype, device=x.device)
        count = all_reduce(count)
        mean = all_reduce(x.sum(dim=dims)) / count
        centred = x - mean.view(1, -1, *([1] * (x.dim() - 2)))
        var = all_reduce((centred * centred).sum(dim=dims)) / count
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                unbiased = var * count / (count - 1).clamp(min=1)
                self.running_mean.mul_(1 - momentum).add_(momentum * mean.detach())
                self.running_var.mul_(1 - momentum).add_(momentum * unbiased.detach())
        shape = (1, -1) + (1,) * (x.dim() - 2)
        out = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out


def convert_sync_batchnorm(module: nn.Module, device_type: str) -> nn.Module:
    """Every BatchNorm of ``module`` synchronised across processes (torch's on GPUs, vbench's on CPUs)."""
    if device_type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    converted = module
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, GlooSyncBatchNorm):
        converted = GlooSyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                      module.track_running_stats)
        converted.load_state_dict(module.state_dict())
        converted.train(module.training)
    for name, child in module.named_children():
        converted.add_module(name, convert_sync_batchnorm(child, device_type))
    return converted

