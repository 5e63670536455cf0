"""Helpers of the reference-vs-vbench benchmarks: same weights, same input, interleaved timing."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn


def randomise_norms(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random BN affine and statistics (small scales keep deep nets' logits of order one)."""
    generator = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
            m.weight.data = torch.rand(m.weight.shape, generator=generator) * 0.4 + 0.1
            m.bias.data = torch.randn(m.bias.shape, generator=generator) * 0.1
            m.running_mean = torch.randn(m.running_mean.shape, generator=generator) * 0.1
            m.running_var = torch.rand(m.running_var.shape, generator=generator) + 0.5
    return model.eval()


def max_logit_difference(reference: nn.Module, model: nn.Module, x: torch.Tensor) -> tuple[float, float]:
    """Max |reference(x) - model(x)| and max |reference(x)| (the scale it is relative to)."""
    with torch.inference_mode():
        expected, got = reference(x), model(x)
    return (expected - got).abs().max().item(), expected.abs().max().item()


def interleaved_medians(runs: dict[str, Callable[[], object]], rounds: int, warmup: int = 1) -> dict[str, float]:
    """Median seconds of each callable, timed in alternation (the order reversed every
    other round) so that load on a shared machine falls on all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    with torch.inference_mode():
        for _ in range(warmup):
            for run in runs.values():
                run()
        for round_index in range(rounds):
            order = list(runs.items())
            for name, run in order if round_index % 2 == 0 else reversed(order):
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def report(title: str, medians: dict[str, float], reference: str) -> None:
    print(title)
    for name, seconds in medians.items():
        ratio = medians[reference] / seconds
        print(f"  {name:42s} {seconds * 1e3:9.1f} ms  (reference / this = {ratio:.3f})")
