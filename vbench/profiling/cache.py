"""A disk cache of FLOP counts, keyed by what a count depends on.

Counting a model's FLOPs traces it twice (fvcore and the dispatch audit), seconds for a
large model, and the count changes only when the model's code or arguments, the counting
code or the input shape change. So a count is stored under a hash of exactly those
(``flop_key``) and reused by the next run: the figures are the stored ones, to the digit.
The folder is ``$VBENCH_CACHE`` or ``~/.cache/vbench``; deleting it is always safe.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from torch import nn

from vbench.fingerprint import code_sources, digest, model_parts
from vbench.profiling.flops import FlopCount
from vbench.results import atomic_write_text


def cache_dir() -> Path:
    return Path(os.environ.get("VBENCH_CACHE") or Path.home() / ".cache" / "vbench")


def flop_key(model: nn.Module, shape: tuple[int, ...]) -> str:
    """The hash a count is stored under: model code and arguments, counting code, input shape."""
    return digest({**model_parts(model), "counting_code": digest(code_sources("profiling")), "input": list(shape)})


def load_flops(key: str) -> FlopCount | None:
    path = cache_dir() / "flops" / f"{key}.json"
    try:
        return FlopCount(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):  # absent, unreadable or of another schema: count again
        return None


def save_flops(key: str, count: FlopCount) -> None:
    try:
        atomic_write_text(cache_dir() / "flops" / f"{key}.json", json.dumps(asdict(count)))
    except OSError:  # a read-only home: the count is still right, only not kept
        pass
