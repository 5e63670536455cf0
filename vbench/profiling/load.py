"""How busy the machine is during and around a timing.

A latency taken while another job shares the processor can be four times the quiet one,
with a small IQR, since a steady load slows every run alike. On the CPU the telling
figure is the share of the processor the timing got: the process's CPU seconds over wall
seconds x torch's threads (0.98 for tsn_r50 on a quiet 2-core machine, 0.49 beside two
busy processes). The record also keeps the 1-minute load average and a small matmul's
throughput just before and after the timing, which serve on a GPU.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import torch

from vbench.environment import load_average


def matmul_gmacs(device: torch.device, seconds: float = 0.1) -> float:
    """GMAC/s of repeated square matmuls for about ``seconds`` (median of the repeats)."""
    n = 2048 if device.type == "cuda" else 384
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    torch.mm(a, b)  # first call: allocation and kernel choice
    times = []
    deadline = time.perf_counter() + seconds
    while len(times) < 3 or time.perf_counter() < deadline:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        torch.mm(a, b)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    times.sort()
    return round(n ** 3 / times[len(times) // 2] / 1e9, 2)


def machine_load(device: torch.device) -> dict:
    """The load average and the matmul probe's GMAC/s, now."""
    return {"loadavg_1m": load_average(), "matmul_gmacs": matmul_gmacs(device)}


def measure_cpu_share(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``fn()``'s result, and the share of ``torch.get_num_threads()`` cores it got."""
    wall, cpu = time.perf_counter(), sum(os.times()[:2])
    result = fn()
    wall, cpu = time.perf_counter() - wall, sum(os.times()[:2]) - cpu
    return result, round(cpu / (wall * torch.get_num_threads()), 3) if wall > 0 else 1.0
