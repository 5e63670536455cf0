"""The layering of docs/architecture.md, held by the code: each part of vbench imports only
the parts below it, no module imports itself back through another, and reporting reads
records without building or measuring a model."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "vbench"

_BASE = {"errors", "version"}
_RECORDS = _BASE | {"results", "environment", "runtime"}
# what each part of vbench may import (besides itself); the order of docs/architecture.md
ALLOWED = {
    "errors": set(),
    "version": set(),
    "results": {"errors"},
    "dataframes": {"errors", "results"},
    "environment": {"version"},
    "runtime": {"errors"},
    "models": {"errors"},
    "data": {"errors", "results"},
    "reid": {"errors"},
    "fingerprint": {"models"},
    "plugins": {"errors", "models"},
    "profiling": _RECORDS | {"models", "plugins", "fingerprint"},
    "evaluation": _RECORDS | {"models", "fingerprint", "data", "reid"},
    "training": _RECORDS | {"models", "fingerprint", "data", "evaluation"},
    "reporting": _BASE | {"results"},  # the models' facts arrive as data (``model_catalogue``)
    "__init__": {"models", "plugins", "version", "profiling", "dataframes"},
    "cli": None,  # the shell over everything
    "__main__": {"cli"},
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    """Every vbench import of a file, at any depth (a function's lazy import counts too):
    (module, names taken from it)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("vbench"):
            subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES]
            if len(subs) == len(node.names):  # from vbench.x import submodule
                found += [(sub, ()) for sub in subs]
            else:
                found.append((node.module, tuple(a.name for a in node.names)))
        elif isinstance(node, ast.Import):
            found += [(a.name, ()) for a in node.names if a.name.startswith("vbench")]
    return found


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _takes_torch(path: Path) -> bool:
    return any(isinstance(n, (ast.Import, ast.ImportFrom))
               and any((getattr(n, "module", None) or a.name).split(".")[0] == "torch" for a in n.names)
               for n in ast.walk(ast.parse(path.read_text())))


def wrong_imports(module: str, path: Path) -> list[str]:
    """The imports of one module that break the layering."""
    part, wrong = _part(module), []
    allowed = ALLOWED[part]
    for target, names in _imports(path):
        if target not in MODULES:
            wrong.append(f"{module} imports {target}, which does not exist")
        elif allowed is not None and _part(target) != part and _part(target) not in allowed:
            wrong.append(f"{module} imports {target}")
    if part == "reporting" and _takes_torch(path):
        wrong.append(f"{module} imports torch: reporting reads records, it does not run models")
    return wrong


def test_each_part_imports_only_the_parts_below_it():
    assert set(_part(m) for m in MODULES) <= set(ALLOWED), "a new part of vbench needs its place in ALLOWED"
    assert [line for module, path in MODULES.items() for line in wrong_imports(module, path)] == []


def test_the_rule_catches_a_report_that_measures(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\n\ndef row():\n    from vbench.profiling.runner import profile\n"
                   "    from vbench.models.registry import create_model, model_info\n")
    assert wrong_imports("vbench.reporting.bad", bad) == [
        "vbench.reporting.bad imports vbench.profiling.runner",
        "vbench.reporting.bad imports vbench.models.registry",
        "vbench.reporting.bad imports torch: reporting reads records, it does not run models"]
    assert wrong_imports("vbench.cli.bad", bad) == []  # the shell may call every layer


def test_no_module_imports_itself_back():
    graph = {m: {t for t, _ in _imports(p) if t in MODULES and t != m} for m, p in MODULES.items()}
    cycles, state = [], {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(trail[trail.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []
