"""The model contract: what every model of vbench provides, and the check of it.

A video classifier (every ``input="video"`` model of the zoo but the re-id one) provides

- ``forward_features(x)``: video ``(N, 3, T, H, W)`` -> last-stage features
  ``(N, C, T', H', W')``, batch first, then channels, time and space (torchvision's video
  layout), whatever the network does inside (frame-folding 2D trunks fold the frames
  into the batch and unfold them again here);
- ``forward_head(features)``: those features -> logits ``(N, num_classes)``;
- ``forward(x) == forward_head(forward_features(x))``, exactly;
- ``reset_classifier(num_classes)``: a new final linear layer of ``num_classes``
  outputs; everything else is kept.

Its ``ModelInfo`` names the classifier (``classifier="head.fc"``, the dotted path of
that final ``nn.Linear``, as timm's ``default_cfg["classifier"]``), the input mean and
std and the default test views. Code that must find the classifier (dropping an
ImageNet ``fc``, a re-id checkpoint's identity layer) asks ``model_info(name).classifier``
or ``classifier_of(model)``; it never guesses from key names.

Two documented cases keep the methods but not the 5-D layout:

- image classifiers (``input="image"``: ECA-Net's ImageNet models):
  ``forward_features`` gives ``(N, C, H', W')``;
- re-identification (``task="person re-identification"``: MSTAT): ``forward_features``
  gives the pooled identity feature ``(N, D)``; ``forward_head`` gives what ``forward``
  gives, the embedding in eval mode and ``(logits, feature)`` in training, and the
  classifier is the training identities' layer.

``check_structure`` (cheap: no forward pass) and ``check_contract`` (one forward pass at
a given input) raise ``ModelContractError`` with one line saying what is wrong.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from vbench.errors import VbenchError

REID_TASK = "person re-identification"
METHODS = ("forward_features", "forward_head", "reset_classifier")


class ModelContractError(VbenchError, TypeError):
    """A model that does not provide vbench's model contract."""


@runtime_checkable
class VideoClassifier(Protocol):
    """The contract of a video classifier (see the module docstring)."""

    def forward_features(self, x: torch.Tensor) -> torch.Tensor: ...

    def forward_head(self, features: torch.Tensor) -> torch.Tensor: ...

    def reset_classifier(self, num_classes: int) -> None: ...


def feature_layout(info) -> str:
    """The layout ``forward_features`` returns for a model of this ``ModelInfo``."""
    if info.task == REID_TASK:
        return "(N, D)"
    return "(N, C, H', W')" if info.input == "image" else "(N, C, T', H', W')"


def replace_linear(model: nn.Module, path: str, num_classes: int) -> nn.Linear:
    """Put a new ``nn.Linear`` of ``num_classes`` outputs at ``path`` (same input width,
    bias, device and dtype as the old one), and keep ``model.vbench_spec`` true."""
    parent_path, _, name = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    old = getattr(parent, name)
    new = nn.Linear(old.in_features, int(num_classes), bias=old.bias is not None,
                    device=old.weight.device, dtype=old.weight.dtype)
    setattr(parent, name, new)
    spec = getattr(model, "vbench_spec", None)
    if spec is not None:
        model.vbench_spec = replace(spec, num_classes=int(num_classes))
    return new


def classifier_of(model: nn.Module, required: bool = True) -> str:
    """The dotted path of a built model's classifier, from its registry entry ("" when it
    names none and ``required`` is False)."""
    spec = getattr(model, "vbench_spec", None)
    if (spec is None or not spec.info.classifier) and not required:
        return ""
    if spec is None or not spec.info.classifier:
        raise ModelContractError("this model does not name its classifier: build it with vbench.create_model, "
                                 "and register it with classifier='<dotted path of its final nn.Linear>'")
    return spec.info.classifier


def is_classifier_key(key: str, classifier: str) -> bool:
    """Whether a state-dict key belongs to the classifier module at ``classifier``."""
    return key.startswith(classifier + ".")


def check_structure(model: nn.Module, info) -> None:
    """The contract's parts that need no forward pass: its methods and its classifier."""
    name = info.name
    missing = [m for m in METHODS if not callable(getattr(model, m, None))]
    if missing:
        raise ModelContractError(f"model '{name}' breaks vbench's model contract: it has no {', '.join(missing)} "
                                 f"(see docs/your-model.md)")
    if not info.classifier:
        raise ModelContractError(f"model '{name}' does not name its classifier: pass classifier='<dotted path of "
                                 f"its final nn.Linear>' (e.g. 'head.fc') to register_model")
    try:
        layer = model.get_submodule(info.classifier)
    except AttributeError:
        layer = None
    if not isinstance(layer, nn.Linear):
        raise ModelContractError(f"model '{name}' names classifier '{info.classifier}', which is not an nn.Linear "
                                 f"of the model: give the dotted path of its final linear layer")
    classes = getattr(getattr(model, "vbench_spec", None), "num_classes", None)
    if classes is not None and layer.out_features != classes:
        raise ModelContractError(f"model '{name}': its classifier '{info.classifier}' has {layer.out_features} "
                                 f"outputs, not num_classes={classes}: build the final layer with num_classes")


def check_contract(model: nn.Module, info, x: torch.Tensor) -> torch.Tensor:
    """Check the whole contract on input ``x`` (model in eval mode); return the features."""
    check_structure(model, info)
    name = info.name
    with torch.no_grad():
        features = model.forward_features(x)
        if not isinstance(features, torch.Tensor):
            raise ModelContractError(f"model '{name}': forward_features must return one tensor "
                                     f"{feature_layout(info)}, got {type(features).__name__}")
        layout = feature_layout(info)
        if features.dim() != layout.count(",") + 1 or features.shape[0] != x.shape[0]:
            raise ModelContractError(f"model '{name}': forward_features must return {layout} with N = "
                                     f"{x.shape[0]} first, got shape {tuple(features.shape)}")
        direct, composed = model(x), model.forward_head(features)
    if not torch.equal(direct, composed):
        raise ModelContractError(f"model '{name}': forward(x) differs from forward_head(forward_features(x)) "
                                 f"(largest difference {(direct - composed).abs().max().item():.3g})")
    return features
