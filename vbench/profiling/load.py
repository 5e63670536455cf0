"""How busy the machine is around a timing: load average and a short matmul probe.

A latency taken while another job shares the processor can be twice the quiet one. The
record keeps the 1-minute load average and the throughput of a small fixed matmul just
before and just after its timing, so a reader can tell a loaded machine from a slow model.
"""

from __future__ import annotations

import time

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
