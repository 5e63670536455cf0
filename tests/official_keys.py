"""Official checkpoints' key names and shapes, recorded from the official model code (tests/data)."""

from __future__ import annotations

from pathlib import Path

import torch

DATA = Path(__file__).parent / "data"


def official_state_dict(name: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors under the keys and shapes listed in tests/data/<name>_official_keys.txt."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for line in (DATA / f"{name}_official_keys.txt").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, shape = line.partition(" ")
        size = tuple(int(s) for s in shape.split(",")) if shape else ()
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        else:
            state[key] = torch.randn(size, generator=generator)
    return state
