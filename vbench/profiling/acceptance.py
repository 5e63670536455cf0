"""Invariants that catch a broken GPU measurement (``benchmarks/gpu_acceptance.py``).

Each check takes numbers already measured and returns a ``Check``: passed or not, and the
reason in words with the figures. They hold on any correct measurement, so a failure
means the timing, the memory counter or the precision switch is wrong, not that the
model is slow. Plain functions of numbers, so that they are tested on the CPU.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

EVENT_WALL_TOLERANCE = 0.05  # CUDA-event median against a synchronised wall-clock median
# Largest |logit - reference logit| allowed, as a fraction of the reference's largest |logit|.
# fp32 against fp32 (another memory layout, compiled) differs by TF32 and reordered sums.
LOGIT_TOLERANCE = {"fp32": 5e-3, "fp16": 2e-2, "bf16": 1e-1}
SATURATION_DROP = 0.9  # a larger batch may not fall below this fraction of the best smaller batch
OUTLIER_SLACK = 0.2  # the first timed run within median + max(3 IQR, this fraction of the median)


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    reason: str

    def as_dict(self) -> dict:
        return asdict(self)


def _bad(*values: float) -> bool:
    return any(v is None or not math.isfinite(v) for v in values)


def event_matches_wall(event_median_ms: float, wall_median_ms: float,
                       tolerance: float = EVENT_WALL_TOLERANCE) -> Check:
    """CUDA events and a synchronised wall clock time the same forward pass: a larger gap
    means the events bracket the wrong work or the stream was not synchronised."""
    name = "event vs wall clock"
    if _bad(event_median_ms, wall_median_ms) or min(event_median_ms, wall_median_ms) <= 0:
        return Check(name, False, f"not a timing: event {event_median_ms} ms, wall {wall_median_ms} ms")
    gap = abs(event_median_ms - wall_median_ms) / wall_median_ms
    verdict = "within" if gap <= tolerance else "beyond"
    return Check(name, gap <= tolerance, f"event median {event_median_ms:.3f} ms, wall median {wall_median_ms:.3f} "
                                         f"ms: {gap:.1%} apart, {verdict} {tolerance:.0%}")


def peak_memory_plausible(peak_bytes: float, weight_bytes: float, input_bytes: float,
                          device_total_bytes: float) -> Check:
    """The peak holds at least the weights and the input, and fits in the device."""
    name = "peak memory"
    mib = 1 << 20
    if _bad(peak_bytes, weight_bytes, input_bytes, device_total_bytes):
        return Check(name, False, f"not a measurement: peak {peak_bytes}")
    floor = weight_bytes + input_bytes
    if peak_bytes < floor:
        return Check(name, False, f"peak {peak_bytes / mib:.1f} MiB is below weights + input "
                                  f"{floor / mib:.1f} MiB: the counter missed allocations (not reset, wrong device?)")
    if peak_bytes >= device_total_bytes:
        return Check(name, False, f"peak {peak_bytes / mib:.1f} MiB is not below the device's "
                                  f"{device_total_bytes / mib:.0f} MiB: counted across runs")
    return Check(name, True, f"weights + input {floor / mib:.1f} MiB <= peak {peak_bytes / mib:.1f} MiB < device "
                             f"{device_total_bytes / mib:.0f} MiB")


def logits_close(max_abs_diff: float, reference_max_abs: float, precision: str, *,
                 expect_change: bool | None = None) -> Check:
    """Logits of a precision/layout/compiled variant against the fp32 eager reference.

    ``expect_change`` (default: for fp16 and bf16) also fails an exactly equal output:
    autocast that did not switch the precision gives the fp32 logits to the bit.
    """
    name = f"{precision} logits"
    tolerance = LOGIT_TOLERANCE[precision]
    if _bad(max_abs_diff, reference_max_abs):
        return Check(name, False, f"non-finite logits (max |diff| {max_abs_diff}): overflow in {precision}?")
    expect_change = precision != "fp32" if expect_change is None else expect_change
    if expect_change and max_abs_diff == 0:
        return Check(name, False, f"identical to the fp32 logits to the bit: {precision} autocast had no effect")
    limit = tolerance * max(reference_max_abs, 1e-6)
    return Check(name, max_abs_diff <= limit,
                 f"max |diff| {max_abs_diff:.3g} against {limit:.3g} ({tolerance:g} of the largest fp32 logit "
                 f"{reference_max_abs:.3g})")


def throughput_rises_until_saturation(throughput_by_batch: Mapping[int, float],
                                      drop: float = SATURATION_DROP) -> Check:
    """Clips/s grow with the batch or level off: a larger batch well below a smaller
    one's best means the timing or the synchronisation is off."""
    name = "throughput vs batch"
    points = sorted(throughput_by_batch.items())
    if len(points) < 2:
        return Check(name, True, "one batch size only: nothing to compare")
    if any(_bad(v) or v <= 0 for _, v in points):
        return Check(name, False, f"not a throughput: {dict(points)}")
    best_batch, best = points[0]
    for batch, value in points[1:]:
        if value < drop * best:
            return Check(name, False, f"batch {batch}: {value:.1f} clips/s, below {drop:.0%} of batch {best_batch}'s "
                                      f"{best:.1f}")
        if value > best:
            best_batch, best = batch, value
    shown = ", ".join(f"{b}: {v:.1f}" for b, v in points)
    return Check(name, True, f"clips/s by batch {shown}; best at batch {best_batch}")


def cudnn_benchmark_consistent(flags: Sequence[bool], expected: bool = True) -> Check:
    """Every measurement ran with the same cuDNN autotuning setting, the one intended."""
    name = "cudnn.benchmark"
    seen = set(flags)
    if not flags:
        return Check(name, False, "no measurement recorded the setting")
    if seen != {expected}:
        return Check(name, False, f"expected {expected} for all {len(flags)} measurements, saw "
                                  f"{sum(bool(f) for f in flags)} True and {sum(not f for f in flags)} False")
    return Check(name, True, f"{expected} for all {len(flags)} measurements")


def warmup_sufficient(times_ms: Sequence[float], slack: float = OUTLIER_SLACK) -> Check:
    """The first timed run is not an outlier: warm-up (allocation, cuDNN autotuning,
    compilation) was over before the timing began."""
    name = "warm-up"
    if len(times_ms) < 4:
        return Check(name, False, f"{len(times_ms)} timed runs: too few to judge the first")
    if _bad(*times_ms):
        return Check(name, False, "non-finite times")
    first, rest = times_ms[0], list(times_ms[1:])
    q1, median, q3 = statistics.quantiles(rest, n=4, method="inclusive")
    limit = median + max(3 * (q3 - q1), slack * median)
    return Check(name, first <= limit, f"first timed run {first:.3f} ms against the others' median {median:.3f} ms "
                                       f"(limit {limit:.3f} ms)")
