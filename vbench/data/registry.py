"""The dataset registry: one name a dataset, its layout beside it.

Each module of ``vbench.data.datasets`` calls ``@register_dataset(name, ...)`` on a
function ``index(root, split, subset, **options) -> DatasetIndex`` that reads the
official files. Modules are imported on first use, so a new dataset (MARS, PRID...) is
one new file and no edit elsewhere.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vbench.data.records import DatasetIndex, check_split
from vbench.errors import VbenchError


class UnknownDatasetError(VbenchError, KeyError):
    def __init__(self, name: str, known: Iterable[str]):
        close = difflib.get_close_matches(name, list(known), n=4, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        super().__init__(f"unknown dataset '{name}'.{hint} Known: {', '.join(sorted(known))}.")

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class DatasetInfo:
    """What a user needs to know about a dataset before pointing ``--root`` at it."""

    name: str
    description: str
    layout: str  # the expected files under ROOT, one line
    splits: tuple[int, ...] = ()  # official splits; () = one split
    subsets: tuple[str, ...] = ("train", "test")
    needs_root: bool = True
    takes_views: bool = False  # generated data sized after the views (synthetic)
    source: str = ""  # where the format comes from
    options: str = ""  # dataset-specific keyword options, documented


@dataclass(frozen=True)
class _Entry:
    info: DatasetInfo
    index: Callable[..., DatasetIndex]


_REGISTRY: dict[str, _Entry] = {}
_LOADED = False


def register_dataset(name: str, *, description: str, layout: str, splits: tuple[int, ...] = (),
                     subsets: tuple[str, ...] = ("train", "test"), needs_root: bool = True,
                     takes_views: bool = False, source: str = "", options: str = "") -> Callable[[Callable[..., DatasetIndex]], Callable]:
    """Register ``index(root, split, subset, **options) -> DatasetIndex`` under ``name``."""

    def decorate(index: Callable[..., DatasetIndex]) -> Callable[..., DatasetIndex]:
        if name in _REGISTRY:
            raise RuntimeError(f"dataset {name} registered twice")
        info = DatasetInfo(name, description, layout, tuple(splits), tuple(subsets), needs_root, takes_views,
                           source, options)
        _REGISTRY[name] = _Entry(info, index)
        return index

    return decorate


def _load_dataset_files() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    import vbench.data.datasets as package

    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"vbench.data.datasets.{module.name}")


def _entry(name: str) -> _Entry:
    _load_dataset_files()
    if name not in _REGISTRY:
        raise UnknownDatasetError(name, _REGISTRY)
    return _REGISTRY[name]


def list_datasets() -> list[str]:
    """Registered dataset names, sorted."""
    _load_dataset_files()
    return sorted(_REGISTRY)


def dataset_info(name: str) -> DatasetInfo:
    return _entry(name).info


def index_dataset(name: str, root: str | Path | None = None, split: int | None = None,
                  subset: str = "test", views: Any = None, **options: Any) -> DatasetIndex:
    """Read a split's official files: classes and records (no decoding).

    ``views`` (a ViewSpec) reaches only datasets registered with ``takes_views``.
    """
    entry = _entry(name)
    info = entry.info
    if subset not in info.subsets:
        raise VbenchError(f"{name} has subsets {', '.join(info.subsets)}, not '{subset}'")
    split = check_split(name, split, info.splits)
    if root is None:
        if info.needs_root:
            raise VbenchError(f"{name} needs --root DIR; expected layout: {info.layout}")
        root_path = None
    else:
        root_path = Path(root).expanduser()
        if not root_path.is_dir():
            raise VbenchError(f"--root {root} is not a folder; expected layout for {name}: {info.layout}")
    if info.takes_views and views is not None:
        options = {"views": views, **options}
    try:
        inspect.signature(entry.index).bind(root_path, split, subset, **options)
    except TypeError:
        known = [p for p in inspect.signature(entry.index).parameters if p not in ("root", "split", "subset", "views")]
        bad = ", ".join(sorted(set(options) - set(known)))
        raise VbenchError(f"{name} has no option {bad}; its options: {', '.join(known) or 'none'}") from None
    return entry.index(root_path, split, subset, **options)
