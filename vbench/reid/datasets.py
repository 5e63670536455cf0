"""The re-id datasets by name: what a ``vbench eval --dataset`` adapter looks up."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from vbench.errors import VbenchError
from vbench.reid.ilidsvid import read_ilidsvid, read_prid2011
from vbench.reid.mars import read_mars
from vbench.reid.tracklets import ReidDataset

READERS: dict[str, Callable[..., ReidDataset]] = {
    "mars": read_mars,
    "ilidsvid": read_ilidsvid,
    "prid2011": read_prid2011,
}


def load_dataset(name: str, root: str | Path, trial: int = 0, **options) -> ReidDataset:
    """One trial of a re-id dataset read from ``root`` (``options``: e.g. ``splits=`` path)."""
    if name not in READERS:
        raise VbenchError(f"unknown re-id dataset '{name}': choose from {', '.join(READERS)}")
    return READERS[name](root, trial=trial, **options)


def load_trials(name: str, root: str | Path, trial: int | None = None, **options) -> list[ReidDataset]:
    """Every trial of a dataset (``trial=None``) or just the one asked for."""
    first = load_dataset(name, root, trial or 0, **options)
    if trial is not None:
        return [first]
    return [first] + [load_dataset(name, root, k, **options) for k in range(1, first.num_trials)]
