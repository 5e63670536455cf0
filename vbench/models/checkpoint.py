"""Loading checkpoints: vbench's own, official ones, and torchvision ImageNet trunks.

``load_checkpoint`` only unwraps (wrapper dicts, ``module.`` prefixes), hands the state
dict to the model's own ``checkpoint_filter`` (the function beside each model that maps
an official repository's key names to vbench's), and reports what did not fit. A
partial load is refused unless ``strict=False``.

``load_with_policy`` is the one policy every command uses, in named modes (``LOAD_MODES``):
evaluation loads ``exact`` (``partial`` with ``--non-strict``), re-id feature extraction
``features``, training's ``--init`` ``init``. The classifier is the one ``ModelInfo``
names, never guessed from key names.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vbench.errors import CheckpointError, VbenchError

_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model_state", "model", "module", "net", "params")
_PREFIXES = ("module.", "_orig_mod.")
TORCHVISION_RESNET_CLASSIFIER = "fc"  # the ImageNet files' classifier: torchvision's ResNet names it so


@dataclass
class LoadReport:
    """What a load did: keys loaded, and those missing, unexpected or of another shape."""

    loaded: int
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def summary(self, limit: int = 5) -> str:
        parts = [f"{self.loaded} tensors loaded"]
        for label, keys in (("missing", self.missing), ("unexpected", self.unexpected)):
            if keys:
                more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
                parts.append(f"{len(keys)} {label}: {', '.join(keys[:limit])}{more}")
        if self.mismatched:
            shown = ", ".join(f"{k} {tuple(a)} vs model {tuple(b)}" for k, a, b in self.mismatched[:limit])
            parts.append(f"{len(self.mismatched)} of another shape: {shown}")
        return "; ".join(parts)


def read_checkpoint(path: str | Path, *, trusted: bool = False) -> dict[str, torch.Tensor]:
    """Read a checkpoint file and unwrap it to a flat ``{key: tensor}`` state dict.

    Files are read with ``weights_only=True``; a file that pickles other Python objects
    needs ``trusted=True`` (it can run code when loaded).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=not trusted)
    except Exception as error:  # torch raises many types for unreadable files
        hint = "" if trusted else " If it holds Python objects and you trust it, load it as trusted."
        raise CheckpointError(f"cannot read checkpoint {path}: {str(error).splitlines()[0]}.{hint}") from None
    return unwrap_state_dict(obj, source=str(path))


def unwrap_state_dict(obj: Any, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Find the state dict inside wrapper dicts and strip DataParallel/compile prefixes."""
    while isinstance(obj, dict) and not _is_state_dict(obj):
        inner = next((obj[k] for k in _WRAPPER_KEYS if isinstance(obj.get(k), dict)), None)
        if inner is None:
            raise CheckpointError(f"{source} holds no state dict (top-level keys: {', '.join(map(str, obj))[:200]})")
        obj = inner
    if not isinstance(obj, dict):
        raise CheckpointError(f"{source} is not a state dict but a {type(obj).__name__}")
    out = {}
    for key, value in obj.items():
        for prefix in _PREFIXES:
            while key.startswith(prefix):
                key = key[len(prefix):]
        out[key] = value
    return out


def _is_state_dict(obj: dict) -> bool:
    return bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def apply_checkpoint_filter(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    spec = getattr(model, "vbench_spec", None)
    if spec is not None and spec.checkpoint_filter is not None:
        return spec.checkpoint_filter(state_dict, model)
    return state_dict


def plan_load(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> LoadReport:
    """What loading ``state_dict`` would do, without loading anything.

    Missing ``num_batches_tracked`` buffers (older checkpoints) are not counted as missing.
    """
    own = model.state_dict()
    mismatched = [(k, tuple(v.shape), tuple(own[k].shape)) for k, v in state_dict.items()
                  if k in own and tuple(v.shape) != tuple(own[k].shape)]
    bad = {k for k, _, _ in mismatched}
    missing = [k for k in own if k not in state_dict and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state_dict if k not in own]
    fitting = sum(1 for k in state_dict if k in own and k not in bad)
    return LoadReport(fitting, missing, unexpected, mismatched)


def load_state_dict(model: nn.Module, state_dict: dict[str, torch.Tensor], *, strict: bool = True) -> LoadReport:
    """Load ``state_dict`` (already converted) into ``model`` and report what did not fit.

    With ``strict`` anything missing, unexpected or mis-shaped raises and loads nothing.
    """
    report = plan_load(model, state_dict)
    own = model.state_dict()
    bad = {k for k, _, _ in report.mismatched}
    fitting = {k: v for k, v in state_dict.items() if k in own and k not in bad}
    if strict and not report.complete:
        raise CheckpointError(f"checkpoint does not fit the model: {report.summary()}. "
                              "Load it with strict=False (--non-strict) to accept a partial load.")
    model.load_state_dict(fitting, strict=False)
    return report


def load_checkpoint(model: nn.Module, path: str | Path, *, strict: bool = True, trusted: bool = False) -> LoadReport:
    """Load a vbench or official checkpoint into a model built by ``create_model``."""
    state_dict = apply_checkpoint_filter(read_checkpoint(path, trusted=trusted), model)
    return load_state_dict(model, state_dict, strict=strict)


def load_imagenet_trunk(model: nn.Module, path: str | Path) -> LoadReport:
    """Initialise a trunk model from a torchvision ImageNet ResNet state dict at ``path``.

    Every trunk tensor of the file must land (else it is not a ResNet of the model's
    depth); the ImageNet classifier is dropped (the file's ``fc``, and whatever the model's
    filter maps onto the model's own classifier, ``ModelInfo.classifier``), and the
    method's own modules and the video head keep their initialisation (listed as
    ``missing`` in the report). A model without such a trunk says so in its
    ``imagenet_trunk_unsupported`` attribute.
    """
    from vbench.models.contract import classifier_of, is_classifier_key

    reason = getattr(model, "imagenet_trunk_unsupported", None)
    if reason:
        raise CheckpointError(reason)
    classifier = classifier_of(model, required=False)
    state_dict = {k: v for k, v in read_checkpoint(path).items()
                  if not is_classifier_key(k, TORCHVISION_RESNET_CLASSIFIER)}
    state_dict = apply_checkpoint_filter(state_dict, model)
    if classifier:
        state_dict = {k: v for k, v in state_dict.items() if not is_classifier_key(k, classifier)}
    report = load_state_dict(model, state_dict, strict=False)
    if report.unexpected or report.mismatched:
        raise CheckpointError(f"{path} does not fit the trunk of this model: {report.summary()}")
    return report


LOAD_MODES = {
    "exact": "every tensor of the model from the file and nothing left over; a classifier of another "
             "class count is named as such",
    "partial": "what fits; the rest keeps its initialisation (--non-strict)",
    "features": "everything but the classifier, which may have another class count (a re-id checkpoint "
                "carries its training identities' classifier)",
    "init": "a starting point for training: a torchvision ImageNet ResNet into the trunk, or any vbench or "
            "official checkpoint of which something fits",
}


@dataclass
class Loaded:
    """What ``load_with_policy`` did: the load report, the file's content hash, notes for the record."""

    report: LoadReport
    sha256: str
    notes: list[str] = field(default_factory=list)


def load_with_policy(model: nn.Module, path: str | Path, mode: str = "exact", *, trusted: bool = False,
                     classes_of: str = "the model") -> Loaded:
    """Load ``path`` into ``model`` under one of ``LOAD_MODES``; anything the mode refuses is one
    line and loads nothing. ``classes_of`` names where the model's class count comes from (a
    dataset) for the classifier's error line."""
    from vbench.models.contract import classifier_of, is_classifier_key

    if mode not in LOAD_MODES:
        raise VbenchError(f"unknown checkpoint load mode '{mode}': choose from {', '.join(LOAD_MODES)}")
    if mode == "init":
        return Loaded(_load_for_training(model, path, trusted), file_sha256(path))
    state = apply_checkpoint_filter(read_checkpoint(path, trusted=trusted), model)
    classifier = classifier_of(model, required=mode == "features")
    in_classifier = (lambda key: is_classifier_key(key, classifier)) if classifier else (lambda key: False)
    notes = []
    for key, theirs, ours in plan_load(model, state).mismatched:
        if not in_classifier(key):
            continue
        if mode == "exact":
            raise CheckpointError(f"the checkpoint's classifier ({key}) has {theirs[0]} classes but {classes_of} has "
                                  f"{ours[0]}: evaluate it on the dataset it was trained on")
        state.pop(key)  # features and partial: the model keeps its own classifier, and the record says so
        why = "features do not use it" if mode == "features" else f"the model's has shape {ours}"
        notes.append(f"checkpoint classifier {key} {theirs} not loaded ({why})")
    plan = plan_load(model, state)
    missing = [k for k in plan.missing if not (mode == "features" and in_classifier(k))]
    if mode != "partial" and (missing or plan.unexpected or plan.mismatched):
        raise CheckpointError(f"checkpoint does not fit the model: {plan.summary()}. "
                              "Load it with --non-strict to accept a partial load.")
    return Loaded(load_state_dict(model, state, strict=False), file_sha256(path), notes)


def _load_for_training(model: nn.Module, path: str | Path, trusted: bool) -> LoadReport:
    try:
        return load_imagenet_trunk(model, path)
    except CheckpointError:
        state = apply_checkpoint_filter(read_checkpoint(path, trusted=trusted), model)
        report = load_state_dict(model, state, strict=False)
        if report.loaded == 0:
            raise CheckpointError(f"nothing in {path} fits {model.vbench_spec.name}: {report.summary()}") from None
        return report


def file_sha256(path: str | Path, length: int = 16) -> str:
    """Short content hash of a file, recorded with every result that used it."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:length]
