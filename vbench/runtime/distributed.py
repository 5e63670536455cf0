"""Running one evaluation over several processes (torchrun), counting every video once.

``torchrun --nproc_per_node=N -m vbench eval ...`` sets RANK/WORLD_SIZE; each process
takes every N-th video (no padding: torch's DistributedSampler repeats videos to even the
shards, which would count some twice), and the per-video results are gathered on rank 0,
which alone writes. GPUs use NCCL; CPU processes use gloo.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import Sampler


@dataclass(frozen=True)
class DistributedContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_type: str) -> DistributedContext:
    """Join the process group torchrun describes in the environment (a no-op when alone)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistributedContext()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend)
    return DistributedContext(rank, world, local)


def shutdown_distributed(context: DistributedContext) -> None:
    if context.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


class ShardSampler(Sampler[int]):
    """Indices ``rank, rank + world, ...`` of a subset: disjoint shards, no padding."""

    def __init__(self, indices: list[int], rank: int, world_size: int):
        self.indices = list(indices)[rank::world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def gather_to_main(items: list, context: DistributedContext) -> list | None:
    """Concatenate every rank's list on rank 0 (others get None)."""
    if not context.enabled:
        return items
    gathered = [None] * context.world_size if context.is_main else None
    dist.gather_object(items, gathered, dst=0)
    if not context.is_main:
        return None
    return [item for part in gathered for item in part]


def broadcast_from_main(value, context: DistributedContext):
    if not context.enabled:
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]
