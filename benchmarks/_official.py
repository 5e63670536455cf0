"""Shared helpers of the benchmarks that run an official implementation beside vbench's."""

from __future__ import annotations

import contextlib
import io
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

# Run as ``python benchmarks/<script>.py`` from anywhere: vbench is this checkout's.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def import_official(checkout: str | Path):
    """Put an official checkout first on sys.path (its packages: ``ops``, ``models``...)."""
    path = str(Path(checkout).resolve())
    if not Path(path).is_dir():
        raise SystemExit(f"official checkout not found: {path}")
    sys.path.insert(0, path)


@dataclass
class Pair:
    """An official model and vbench's, same weights, each with its own copy of the same input.

    ``official`` and ``vbench`` run one forward pass and return logits; ``inputs`` says
    what the clip is (e.g. ``1x3x8x224x224``); ``models`` keeps the two modules for a
    script's further figures (counts, a head alone)."""

    name: str
    official: Callable[[], torch.Tensor]
    vbench: Callable[[], torch.Tensor]
    inputs: str
    max_logit_diff: float
    models: dict[str, object] = field(default_factory=dict, repr=False)


def shape_text(x: torch.Tensor) -> str:
    return "x".join(map(str, x.shape))


@contextlib.contextmanager
def official_imports(checkout: str | Path) -> Iterator[Path]:
    """Import from an official checkout for the time of a build, then forget its modules.

    Several checkouts ship top-level packages of the same name (``ops``, ``models``,
    ``src``); dropping the ones a checkout brought lets the next checkout's import its own.
    The built models keep their classes alive."""
    path = Path(checkout).resolve()
    if not path.is_dir():
        raise SystemExit(f"official checkout not found: {path}")
    before = set(sys.modules)
    sys.path.insert(0, str(path))
    try:
        yield path
    finally:
        sys.path.remove(str(path))
        for name in set(sys.modules) - before:
            top = name.split(".")[0]
            if (path / top).exists() or (path / f"{top}.py").exists():
                del sys.modules[name]


@contextlib.contextmanager
def quiet():
    """Silence the official code's prints while it builds."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def randomize_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial weights everywhere, with BN statistics that keep activations in range."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            if name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            elif name.endswith(("running_mean", "bias")):
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.1)
            elif tensor.dim() == 1:  # BN scales
                tensor.copy_(torch.rand(tensor.shape, generator=generator) * 0.5 + 0.25)
            else:
                fan_in = tensor[0].numel()
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * (1.0 / fan_in) ** 0.5)
    return model


def official_checkpoint(model: nn.Module, path: Path, prefix: str = "module.") -> Path:
    """Save an official model's state dict as its training scripts do (DataParallel prefix, wrapper)."""
    torch.save({"epoch": 1, "state_dict": {prefix + k: v for k, v in model.state_dict().items()}}, path)
    return path


def interleaved_medians(runs: dict[str, Callable[[], object]], rounds: int = 10, warmup: int = 2) -> dict[str, float]:
    """Median wall time (ms) of each callable, the callables alternating every round."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    with torch.inference_mode():
        for _ in range(warmup):
            for fn in runs.values():
                fn()
        for _ in range(rounds):
            for name, fn in runs.items():
                start = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(values) for name, values in times.items()}


def dispatch_gmacs(fn: Callable[[], object]) -> float:
    """Multiply-adds (G) seen by torch's FlopCounterMode (it counts 2 FLOPs a MAC)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 2e9
