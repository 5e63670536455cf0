"""The model registry: one name a model, its paper beside it.

Each method's file decorates a builder with ``@register_model(...)``; the decorator
records what a user needs to know about the model (paper, task, default input, the key
of its rows in the reported-numbers table) and an optional ``checkpoint_filter`` that
turns an official checkpoint into the model's own state dict. Model files are imported
lazily on first use, so ``import vbench`` stays fast and a new method needs no edit here.
"""

from __future__ import annotations

import fnmatch
import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from torch import nn

from vbench.errors import ModelNameTaken, UnknownModelError, VbenchError

_DEPTH_SUFFIX = re.compile(r"^(?P<stem>.+_r)(?P<depth>\d+)$")

# Input normalisation (RGB in [0, 1]): ImageNet's, and the Kinetics statistics that
# torchvision's and VMZ's video models were trained with.
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
KINETICS_MEAN, KINETICS_STD = (0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989)


@dataclass(frozen=True)
class ModelInfo:
    """What a user needs to know about a registered model.

    ``frames`` and ``size`` are the default input (T x H x W); ``reported_key`` names
    this model's rows in vbench's reported-numbers table. ``reconstruction`` is True for
    models built without public code or a readable paper body: not a verified port.
    ``source`` is "zoo" for vbench's own models and "user" for a model registered from
    outside the vbench package (a plugin file, a user's module): set by ``register_model``.

    The model contract (``vbench.models.contract``): ``classifier`` is the dotted path of
    the final ``nn.Linear`` (``reset_classifier`` replaces it; loaders drop or keep it by
    this name), ``mean``/``std`` the input normalisation the model's weights expect, and
    ``test_views`` the name of its default test protocol, a view preset of
    ``vbench.data.views``.
    """

    name: str
    method: str
    paper: str
    year: int
    task: str = "action recognition"
    input: str = "video"  # "video": (N, C, T, H, W); "image": (N, C, H, W)
    frames: int = 8
    size: tuple[int, int] = (224, 224)
    num_classes: int = 400
    family: str = "2D trunk"
    arxiv: str = ""
    code: str = ""
    reported_key: str = ""
    depth: int | None = None
    depths: tuple[int, ...] = ()
    reconstruction: bool = False
    notes: str = ""
    source: str = "zoo"
    classifier: str = ""
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    test_views: str = "1x1"

    @property
    def default_input(self) -> str:
        h, w = self.size
        return f"{h}x{w}" if self.input == "image" else f"{self.frames}x{h}x{w}"

    def input_shape(self, batch: int = 1, frames: int | None = None,
                    size: tuple[int, int] | None = None) -> tuple[int, ...]:
        """Shape of an input batch: (N, 3, T, H, W) for video, (N, 3, H, W) for images."""
        h, w = size or self.size
        if self.input == "image":
            return (batch, 3, h, w)
        return (batch, 3, frames or self.frames, h, w)


@dataclass(frozen=True)
class _Entry:
    info: ModelInfo
    builder: Callable[..., nn.Module]
    checkpoint_filter: Callable[[dict, nn.Module], dict] | None
    fixed: dict[str, Any] = field(default_factory=dict)  # overrides an alias implies


@dataclass(frozen=True)
class ModelSpec:
    """How a model instance was built; attached to it as ``model.vbench_spec``."""

    name: str
    info: ModelInfo
    num_classes: int
    num_frames: int
    overrides: dict[str, Any]
    checkpoint_filter: Callable[[dict, nn.Module], dict] | None = None


_REGISTRY: dict[str, _Entry] = {}
_ALIASES: dict[str, _Entry] = {}
_LOADED = False
_CONTRACT_CHECKED: set[str] = set()  # plugin models: their contract is checked when built


def register_model(
    *,
    method: str,
    paper: str,
    year: int,
    checkpoint_filter: Callable[[dict, nn.Module], dict] | None = None,
    **info: Any,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a builder under its function name (``vbench.register_model`` for users).

    A builder named like ``tsm_r50`` that lists ``depths=(18, 34, 50, 101)`` also answers
    to ``tsm_r18``, ``tsm_r34`` and ``tsm_r101`` (the same builder with ``depth=``).
    A builder outside the vbench package is a user model (``source="user"``); it may not
    take a name of the zoo, and registering it again from the same file replaces it (a
    plugin imported twice), while two files registering one name is refused.
    """

    def decorate(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        name = builder.__name__
        source = "zoo" if _in_vbench(builder.__module__) else "user"
        meta = ModelInfo(name=name, method=method, paper=paper, year=year, source=source, **info)
        if not meta.reported_key:
            meta = replace(meta, reported_key=name)
        match = _DEPTH_SUFFIX.match(name)
        if match and meta.depths:
            meta = replace(meta, depth=meta.depth or int(match["depth"]))
        aliases = {f"{match['stem']}{d}": d for d in meta.depths} if match and meta.depths else {}
        aliases.pop(name, None)
        if source == "user":
            _load_model_files()  # so that a user's name is checked against the whole zoo
            for taken in (name, *aliases):
                _check_free(taken, builder)
        elif name in _REGISTRY:
            raise RuntimeError(f"model {name} registered twice")
        entry = _Entry(meta, builder, checkpoint_filter)
        _REGISTRY[name] = entry
        for alias, depth in aliases.items():
            alias_info = replace(meta, name=alias, reported_key=alias, depth=depth)
            _ALIASES[alias] = _Entry(alias_info, builder, checkpoint_filter, {"depth": depth})
        return builder

    return decorate


def _in_vbench(module: str | None) -> bool:
    return bool(module) and (module == "vbench" or module.startswith("vbench."))


def defined_in(builder: Callable[..., nn.Module]) -> str:
    """The source file of a builder (or its module's name when it has none)."""
    try:
        return str(Path(inspect.getsourcefile(builder)).resolve())
    except (TypeError, OSError):
        return builder.__module__


def _check_free(name: str, builder: Callable[..., nn.Module]) -> None:
    """Refuse a user model's name that the zoo or another file already registered."""
    held = _REGISTRY.get(name) or _ALIASES.get(name)
    if held is None:
        return
    if held.info.source == "zoo":
        raise ModelNameTaken(
            f"model name '{name}' is taken by the zoo's {held.info.method} model ({held.builder.__module__}): "
            f"rename yours (the builder function's name is the model's name)")
    if defined_in(held.builder) != defined_in(builder):
        raise ModelNameTaken(f"model name '{name}' is registered twice, in {defined_in(held.builder)} and in "
                             f"{defined_in(builder)}: rename one")


def require_contract(names) -> None:
    """Check the contract of these models whenever they are built (plugins' models)."""
    _CONTRACT_CHECKED.update(names)


def registered_by(module: str) -> list[str]:
    """The names (aliases included) whose builder lives in ``module``."""
    entries = list(_REGISTRY.items()) + list(_ALIASES.items())
    return [name for name, entry in entries if entry.builder.__module__ == module]


def _load_model_files() -> None:
    """Import every model file of vbench.models once, so their decorators run."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    # every module beside this one: the model files register their builders; the shared
    # parts (trunks, heads, checkpoint, ...) register nothing and are imported by them anyway
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if not module.ispkg and not module.name.startswith("_"):
            importlib.import_module(f"{__package__}.{module.name}")


def _entry(name: str) -> _Entry:
    _load_model_files()
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name in _ALIASES:
        return _ALIASES[name]
    raise UnknownModelError(name, list(_REGISTRY) + list(_ALIASES))


def builder_of(name: str) -> Callable[..., nn.Module]:
    """The function that builds a registered model (its module is the method's file)."""
    return _entry(name).builder


def list_models(pattern: str | None = None, *, aliases: bool = False) -> list[str]:
    """Registered model names, sorted; ``pattern`` is a shell-style filter (``"ts*"``)."""
    _load_model_files()
    names = list(_REGISTRY) + (list(_ALIASES) if aliases else [])
    if pattern:
        names = [n for n in names if fnmatch.fnmatch(n, pattern)]
    return sorted(names)


def model_info(name: str) -> ModelInfo:
    """Paper, task, default input and reported-table key of a registered model."""
    return _entry(name).info


def model_catalogue() -> dict[str, dict[str, Any]]:
    """What a report needs to know of every registered name (aliases too): its family and
    whether it is a reconstruction. Reporting takes this as data, so that it never imports
    the zoo."""
    return {name: {"family": model_info(name).family, "reconstruction": model_info(name).reconstruction}
            for name in list_models(aliases=True)}


def resolve_depth(name: str, depth: int | None) -> str:
    """The registry name of ``name`` at ``depth`` (``tsm_r50`` at 18 is ``tsm_r18``)."""
    if depth is None:
        return name
    info = model_info(name)
    if not info.depths:
        raise VbenchError(f"model '{name}' has a fixed depth; --depth applies to: "
                          f"{', '.join(n for n in list_models() if model_info(n).depths)}")
    if depth not in info.depths:
        raise VbenchError(f"model '{name}' is built at depth {', '.join(map(str, info.depths))}, "
                          f"not {depth}")
    match = _DEPTH_SUFFIX.match(info.name)
    return f"{match['stem']}{depth}" if match else name


def create_model(
    name: str,
    num_classes: int | None = None,
    num_frames: int | None = None,
    *,
    pretrained: str | None = None,
    weights: str | None = None,
    **overrides: Any,
) -> nn.Module:
    """Build a registered model.

    ``num_classes`` and ``num_frames`` default to the model's own defaults (400 classes
    and 8 frames for most video models; see ``model_info``). ``pretrained`` is the path
    of a torchvision ImageNet state dict to initialise the trunk from (no download).
    ``weights`` names a published checkpoint (``"k400_8f"`` or ``"tsm_r50.k400_8f"``, see
    ``vbench.models.weights``): classes, frames and builder options default to its entry,
    and the file is downloaded into torch's hub cache if needed and loaded through the
    model's converter. Other keyword arguments go to the builder (``depth=18``...).
    """
    published = None
    if weights is not None:
        from vbench.models.weights import get_weights

        published = get_weights(weights, model=name)
        if published.model != name:
            raise VbenchError(f"weights '{published.name}' are for model {published.model}, not {name}")
        num_classes = published.num_classes if num_classes is None else num_classes
        num_frames = published.frames if num_frames is None else num_frames
        overrides = {**published.model_kwargs, **overrides}
    entry = _entry(name)
    info = entry.info
    depth = overrides.pop("depth", None)
    if depth is not None:
        name = resolve_depth(name, depth)
        entry = _entry(name)
        info = entry.info
    kwargs = {**entry.fixed, **overrides}
    classes = info.num_classes if num_classes is None else int(num_classes)
    if classes < 1:
        raise VbenchError(f"num_classes must be a positive number, got {classes}")
    frames = info.frames if num_frames is None else int(num_frames)
    if info.input == "video":
        if frames < 1:
            raise VbenchError(f"num_frames must be a positive number, got {frames}")
        kwargs["num_frames"] = frames
    else:
        frames = 1
    params = inspect.signature(entry.builder).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    unknown = [k for k in kwargs if k not in params and not takes_any]
    if unknown:
        options = ", ".join(p for p in params if p not in ("num_classes", "num_frames"))
        raise VbenchError(f"model '{name}' does not take {', '.join(unknown)}; its options: {options or 'none'}")
    try:
        model = entry.builder(num_classes=classes, **kwargs)
    except TypeError as error:  # an option passed down to a class that does not take it
        bad = re.search(r"unexpected keyword argument '(\w+)'", str(error))
        if bad is None:
            raise
        raise VbenchError(f"model '{name}' does not take {bad[1]}") from None
    model.vbench_spec = ModelSpec(name, info, classes, frames, dict(kwargs), entry.checkpoint_filter)
    if name in _CONTRACT_CHECKED:
        from vbench.models.contract import check_structure

        check_structure(model, info)
    if pretrained:
        from vbench.models.checkpoint import load_imagenet_trunk

        load_imagenet_trunk(model, pretrained)
    if published is not None:
        from vbench.models.weights import load_weights

        load_weights(model, published)
    return model
