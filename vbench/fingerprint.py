"""Fingerprints: a short hash of everything a result depends on.

A resumed run or a cached record is reused only while its fingerprint is unchanged; a
change of the model's code, its constructor arguments, the measuring code or the
settings re-runs it, and ``explain`` says which part changed.

A model's code is the source of every vbench module that defines one of its submodules'
classes (or their bases), of its builder, and of the ``vbench.models`` modules these
import, so a change of P3D's file changes P3D's fingerprint and not TSM's.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import sys
import types
from pathlib import Path
from typing import Any

from torch import nn

_PACKAGE_ROOT = Path(__file__).resolve().parent


def digest(payload: Any, length: int = 16) -> str:
    """SHA-1 of a JSON-able payload (keys sorted; other objects by ``str``)."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:length]


@functools.cache
def _file_sha(path: str) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()[:16]


def _vbench_module(name: str | None, within: str = "vbench") -> bool:
    return bool(name) and (name == within or name.startswith(within + "."))


def _own_code(name: str | None) -> bool:
    """A module whose source a fingerprint hashes: not torch's, torchvision's or Python's
    own (their versions are in the provenance); vbench's and a user's model files are."""
    if not name or name == "builtins":
        return False
    top = name.partition(".")[0]
    return top not in ("torch", "torchvision", "fvcore", "typing", "collections", "functools")


def _module_closure(start: set[str]) -> set[str]:
    """``start`` and the ``vbench.models`` modules they import, transitively."""
    seen, todo = set(), list(start)
    while todo:
        name = todo.pop()
        if name in seen or name not in sys.modules:
            continue
        seen.add(name)
        for value in vars(sys.modules[name]).values():
            if isinstance(value, types.ModuleType):
                other = value.__name__
            else:
                other = getattr(value, "__module__", None) if callable(value) else None
            if _vbench_module(other, "vbench.models") and other not in seen:
                todo.append(other)
    return seen


def _relative(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(_PACKAGE_ROOT.parent))
    except ValueError:
        return Path(path).name


def model_sources(model: nn.Module) -> dict[str, str]:
    """{source file: content hash} of the vbench code that builds and runs ``model``."""
    modules = set()
    for module in model.modules():
        for cls in type(module).__mro__:
            if _own_code(cls.__module__):
                modules.add(cls.__module__)
    spec = getattr(model, "vbench_spec", None)
    if spec is not None:
        from vbench.models.registry import builder_of

        modules.add(builder_of(spec.name).__module__)
    files = {}
    for name in _module_closure(modules):
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None)
        if path and Path(path).suffix == ".py":
            files[_relative(path)] = _file_sha(path)
    return files


def code_sources(*subpackages: str) -> dict[str, str]:
    """{source file: content hash} of every module of the named vbench subpackages."""
    files = {}
    for sub in subpackages:
        folder = _PACKAGE_ROOT / sub
        paths = sorted(folder.rglob("*.py")) if folder.is_dir() else [folder.with_suffix(".py")]
        for path in paths:
            if path.exists():
                files[_relative(str(path))] = _file_sha(str(path))
    return files


def model_parts(model: nn.Module) -> dict[str, str]:
    """The model's two fingerprint parts: its code, and how it was built (name, arguments)."""
    spec = getattr(model, "vbench_spec", None)
    built = None if spec is None else {"name": spec.name, "num_classes": spec.num_classes,
                                       "num_frames": spec.num_frames, "overrides": spec.overrides}
    if built is None:
        built = {"class": f"{type(model).__module__}.{type(model).__qualname__}",
                 "signature": str(inspect.signature(type(model).__init__))}
    return {"model_code": digest(model_sources(model)), "model_arguments": digest(built)}


def fingerprint(parts: dict[str, str]) -> dict[str, Any]:
    """A fingerprint record: the parts and one hash of them all."""
    return {"fingerprint": digest(parts), "fingerprint_parts": dict(parts)}


_PART_NAMES = {
    "model_code": "the model's code", "model_arguments": "the model's constructor arguments or defaults",
    "measuring_code": "vbench's measuring code", "settings": "the settings", "data_code": "the data pipeline's code",
    "training_code": "the training code", "evaluation_code": "the evaluation code",
}


def explain(old: dict | None, new: dict) -> str | None:
    """Why a stored result does not fit ``new`` (None when it does)."""
    if not old or not old.get("fingerprint"):
        return "it carries no fingerprint (made before vbench recorded them)"
    if old["fingerprint"] == new["fingerprint"]:
        return None
    before, after = old.get("fingerprint_parts") or {}, new["fingerprint_parts"]
    changed = [_PART_NAMES.get(k, k) for k in after if before.get(k) != after[k]]
    return f"{', '.join(changed) or 'what it measured'} changed since it was made"
