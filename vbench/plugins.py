"""Plugins: a user's own models, loaded by every command.

A plugin is a Python file or an importable module whose import registers models with
``vbench.register_model``; an installed package can also name such a module under the
entry-point group ``vbench.models`` (``[project.entry-points."vbench.models"]``), which
every command loads. Loading is idempotent per resolved file, so a plugin given twice,
or once as a path and once as a module, registers its models once.

A file is imported under a stable module name derived from its resolved path
(``vbench_plugin_<stem>_<hash>``), so it needs no ``__init__.py`` and may sit anywhere.
Its folder is appended to ``sys.path`` (as ``python file.py`` would, but last, so it never
shadows an installed module): a plugin file may import its sibling modules.

Child processes that rebuild a model (the CPU memory probe) read the loaded plugins from
``VBENCH_PLUGINS`` (see ``child_environment``) and load them again.

A plugin's models must keep vbench's model contract (``vbench.models.contract``:
``forward_features``, ``forward_head``, ``reset_classifier``, and ``classifier=`` in
``register_model``); every model a plugin registers is checked when it is built, and one
that breaks the contract fails with one line saying what is missing.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
import os
import re
import sys
import sysconfig
import traceback
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from vbench.errors import PluginError, VbenchError

ENTRY_POINT_GROUP = "vbench.models"
ENV = "VBENCH_PLUGINS"

_loaded: dict[str, ModuleType] = {}  # resolved file path (or module name) -> module
_specs: list[str] = []  # what was loaded, as a child process can load it again
_entry_points_loaded = False


def load_plugins(plugins: Iterable[str] = (), *, entry_points: bool = True) -> list[ModuleType]:
    """Load the entry points of ``vbench.models`` (once) and each plugin path or module."""
    modules = load_entry_points() if entry_points else []
    return modules + [load_plugin(spec) for spec in plugins or ()]


def load_plugin(spec: str) -> ModuleType:
    """Import one plugin: a ``.py`` file (or a path) or a dotted module name."""
    spec = str(spec)
    if spec.endswith(".py") or os.sep in spec or "/" in spec:
        return _load_file(Path(spec))
    return _load_module(spec)


def _load_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise PluginError(f"plugin {path}: no such file (give a .py file or an importable module name)")
    resolved = path.resolve()
    key = str(resolved)
    if key in _loaded:
        return _loaded[key]
    for module in list(sys.modules.values()):  # already imported by name (import my_model)
        if _file_of(module) == key:
            return _remember(key, module, key)
    stem = re.sub(r"\W", "_", resolved.stem)
    name = f"vbench_plugin_{stem}_{hashlib.sha1(key.encode()).hexdigest()[:8]}"
    if str(resolved.parent) not in sys.path:
        sys.path.append(str(resolved.parent))
    module_spec = importlib.util.spec_from_file_location(name, resolved)
    if module_spec is None or module_spec.loader is None:
        raise PluginError(f"plugin {path}: not a Python file")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # before running it: dataclasses and pickle look classes up there
    try:
        module_spec.loader.exec_module(module)
    except BaseException as error:
        sys.modules.pop(name, None)
        _raise_failure(str(path), error, resolved)
    return _remember(key, module, key)


def _load_module(name: str) -> ModuleType:
    if name in _loaded:
        return _loaded[name]
    try:
        found = importlib.util.find_spec(name)
    except (ImportError, ValueError) as error:
        _raise_failure(name, error, None)
    if found is None:
        raise PluginError(f"plugin {name}: no such file or importable module (a file must end in .py; a module "
                          f"must be on sys.path: install it or set PYTHONPATH)")
    origin = str(Path(found.origin).resolve()) if found.origin and found.has_location else None
    if origin and origin in _loaded:
        return _remember(name, _loaded[origin], name)
    try:
        module = importlib.import_module(name)
    except BaseException as error:
        _raise_failure(name, error, Path(origin) if origin else None)
    if origin:
        _loaded[origin] = module
    return _remember(name, module, name)


def load_entry_points() -> list[ModuleType]:
    """Import every module that installed packages list under ``vbench.models``, once."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return []
    _entry_points_loaded = True
    modules = []
    for point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(point, "dist", None)
        where = f"entry point '{point.name} = {point.value}' (group {ENTRY_POINT_GROUP}" + (
            f", package {dist.name})" if dist is not None else ")")
        try:
            loaded = point.load()
        except BaseException as error:
            _entry_points_loaded = False  # a later call (after a fix) tries again
            _raise_failure(where, error, None)
        module = loaded if isinstance(loaded, ModuleType) else sys.modules.get(getattr(loaded, "__module__", ""))
        if module is not None:
            _require_contract(module)
            _loaded[_file_of(module) or module.__name__] = module  # a child process loads it as an entry point
            modules.append(module)
    return modules


def _remember(key: str, module: ModuleType, spec: str) -> ModuleType:
    _require_contract(module)
    _loaded[key] = module
    if spec not in _specs:
        _specs.append(spec)
    return module


def _require_contract(module: ModuleType) -> None:
    """Have the registry check the contract of the models this plugin module registered."""
    from vbench.models.registry import registered_by, require_contract

    require_contract(registered_by(module.__name__))


def _file_of(module: ModuleType) -> str | None:
    path = getattr(module, "__file__", None)
    try:
        return str(Path(path).resolve()) if path else None
    except (OSError, TypeError):
        return None


def _raise_failure(what: str, error: BaseException, path: Path | None) -> None:
    """One line naming the plugin and its error (the traceback stays on ``__cause__``)."""
    if isinstance(error, KeyboardInterrupt):
        raise error
    if isinstance(error, VbenchError):  # a clashing name: its own message says what to do
        raise PluginError(f"plugin {what}: {error}") from error
    where = ""
    frames = traceback.extract_tb(error.__traceback__)
    if path is not None:
        inside = [f for f in frames if Path(f.filename).resolve() == path.resolve()]
        if inside:
            where = f" ({path.name}, line {inside[-1].lineno})"
    else:  # the deepest frame of the plugin's own code, not of the import machinery
        stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
        own = [f for f in frames if not f.filename.startswith("<") and stdlib not in Path(f.filename).resolve().parents
               and Path(f.filename).resolve() != Path(__file__).resolve()]
        if own:
            where = f" ({Path(own[-1].filename).name}, line {own[-1].lineno})"
    if isinstance(error, SyntaxError) and error.lineno:
        where = f" ({Path(error.filename or what).name}, line {error.lineno})"
    message = error.msg if isinstance(error, SyntaxError) else str(error)
    raise PluginError(f"plugin {what} failed to import: {type(error).__name__}: {message}{where}") from error


def loaded_plugins() -> list[str]:
    """The plugins loaded so far, as ``load_plugin`` takes them (files as resolved paths)."""
    return list(_specs)


def child_environment(model: str | None = None) -> dict[str, str]:
    """The environment a child process needs to rebuild ``model`` (and every plugin's).

    A user model registered by a module that is no plugin (a user's script imported it)
    is loaded by that module's name; one defined in ``__main__`` cannot be rebuilt.
    """
    specs = list(_specs)
    if model is not None:
        from vbench.models.registry import builder_of, model_info

        module = builder_of(model).__module__
        if model_info(model).source == "user" and sys.modules.get(module) not in _loaded.values():
            if module == "__main__":
                raise VbenchError(f"model '{model}' is defined in __main__, which a fresh process cannot import: "
                                  "put it in a module or a plugin file (vbench --plugin FILE) to measure its CPU memory")
            specs.append(module)
    if not specs and not _entry_points_loaded:
        return {}
    return {ENV: json.dumps({"plugins": specs, "entry_points": _entry_points_loaded,
                             "path": [p for p in sys.path if p]})}


def load_from_environment() -> None:
    """In a child process: load what the parent had loaded (``child_environment``)."""
    text = os.environ.get(ENV)
    if not text:
        return
    request = json.loads(text)
    for entry in request.get("path", []):
        if entry not in sys.path:
            sys.path.append(entry)
    load_plugins(request.get("plugins", []), entry_points=request.get("entry_points", False))
