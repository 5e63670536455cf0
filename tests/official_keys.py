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


def randomised_state(model) -> dict[str, torch.Tensor]:
    """The model's state dict with every floating tensor drawn afresh (so a misplaced tensor shows)."""
    state = model.state_dict()
    for tensor in state.values():
        if tensor.is_floating_point():
            tensor.normal_()
    return state


def assert_checkpoint_lands(target, source_state: dict[str, torch.Tensor], path: Path) -> None:
    """Load the checkpoint at ``path`` into ``target``: every tensor of ``source_state`` must land in place."""
    from vbench.models import load_checkpoint

    report = load_checkpoint(target, path)
    assert report.complete and report.loaded == len(source_state)
    for key, value in source_state.items():
        assert torch.equal(target.state_dict()[key], value), key
