"""Latency: median and interquartile range of repeated runs after warm-up.

On a GPU each run is bracketed by CUDA events and the stream is synchronised before the
time is read. On the CPU, ``torch.utils.benchmark.Timer`` with as many threads as
torch uses (its default is ONE thread, which would time a different machine) and
``adaptive_autorange``: blocks of runs are repeated until IQR/median falls under a
threshold, or the time budget is spent.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.utils.benchmark as benchmark


# a latency is stable when its IQR is at most this fraction of its median (the records' rule);
# timing stops as soon as it holds, so a run spends its budget only on a noisy model
STABLE_IQR = 0.1


@dataclass
class Latency:
    median_ms: float
    iqr_ms: float
    runs: int
    method: str
    times_ms: list[float] = field(default_factory=list, repr=False)  # each timed run, in order (GPU only)

    @property
    def stable(self) -> bool:
        return self.iqr_ms <= STABLE_IQR * self.median_ms


def _quartiles(times: list[float]) -> tuple[float, float, float]:
    if len(times) < 2:
        return times[0], times[0], times[0]
    q1, q2, q3 = statistics.quantiles(times, n=4, method="inclusive")
    return q1, q2, q3


def measure_latency(fn: Callable[[], object], device: torch.device, *, warmup: int = 3,
                    budget_s: float = 10.0, threshold: float = STABLE_IQR, min_runs: int = 5) -> Latency:
    """Time ``fn()`` (one forward pass) on ``device``.

    Warm-up stops after ``warmup`` runs or a fifth of the budget, whichever comes first
    (at least one run): a model that takes seconds a pass is warm after one. On a GPU the
    first pass (cuDNN autotuning, compilation) never counts against that fifth: at least
    two passes, so that the pass after a slow first one is not timed cold.
    """
    least = 2 if device.type == "cuda" else 1
    warm_until = time.perf_counter() + 0.2 * budget_s
    for done in range(1, max(least, warmup) + 1):
        fn()
        if done == 1 and device.type == "cuda":
            warm_until = time.perf_counter() + 0.2 * budget_s
        if done >= least and time.perf_counter() > warm_until:
            break
    if device.type == "cuda":
        return _cuda_latency(fn, device, budget_s, threshold, min_runs)
    threads = torch.get_num_threads()
    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=threads)
    # min_run_time bounds the statistics of fast models; max_run_time is the budget.
    m = timer.adaptive_autorange(threshold=threshold, min_run_time=min(1.0, budget_s / 4), max_run_time=budget_s)
    runs = len(m.times) * m.number_per_run
    return Latency(m.median * 1e3, m.iqr * 1e3, runs,
                   f"torch.utils.benchmark adaptive_autorange, {threads} threads, {runs} runs")


def _cuda_latency(fn: Callable[[], object], device: torch.device, budget_s: float, threshold: float,
                  min_runs: int) -> Latency:
    times: list[float] = []
    start_clock = time.perf_counter()
    with torch.cuda.device(device):
        torch.cuda.synchronize()
        while True:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
            if len(times) >= min_runs:
                q1, median, q3 = _quartiles(times)
                if (q3 - q1) <= threshold * median or time.perf_counter() - start_clock > budget_s:
                    break
    q1, median, q3 = _quartiles(times)
    return Latency(median, q3 - q1, len(times), f"CUDA events, synchronised, {len(times)} runs", times)


@dataclass
class PairedRatio:
    median: float
    q1: float
    q3: float
    rounds: int
    method: str


def paired_ratio(numerator: Callable[[], object], denominator: Callable[[], object], *, rounds: int = 7,
                 block_s: float = 0.25) -> PairedRatio:
    """Median over ``rounds`` of time(numerator) / time(denominator), the two timed
    alternately (the order swapped every round), each side a block of calls of about
    ``block_s``. Latencies measured minutes apart on a shared machine can differ by a
    third; a ratio of neighbouring blocks is what a speed-up is. ``fn`` synchronises its
    device itself (as the profile's ``run`` does)."""
    start = time.perf_counter()
    denominator()
    calls = max(1, round(block_s / max(time.perf_counter() - start, 1e-6)))
    sides = (numerator, denominator)
    ratios = []
    for round_index in range(rounds):
        seconds = [0.0, 0.0]
        for side in ((0, 1) if round_index % 2 == 0 else (1, 0)):
            start = time.perf_counter()
            for _ in range(calls):
                sides[side]()
            seconds[side] = time.perf_counter() - start
        ratios.append(seconds[0] / seconds[1])
    q1, median, q3 = _quartiles(ratios)
    return PairedRatio(median, q1, q3, rounds,
                       f"median of {rounds} rounds of one time over the other, the two timed alternately, "
                       f"{calls} call{'s' if calls > 1 else ''} a side a round")
