"""The device's measured matrix-multiply peak, to say what fraction of it a model reaches.

Counted in the same unit as vbench's GFLOPs (multiply-accumulates): an n x n by n x n
product is n^3 MACs.
"""

from __future__ import annotations

import functools

import torch

from vbench.profiling.timing import measure_latency


@functools.cache
def matmul_peak_gmacs(device_type: str, dtype: torch.dtype = torch.float32, n: int | None = None) -> float:
    """GMAC/s of a large square matmul on the device, in ``dtype``."""
    device = torch.device(device_type)
    n = n or (8192 if device.type == "cuda" else 2048)
    if device.type == "cpu" and dtype == torch.float16:
        dtype = torch.float32  # the CPU has no fast fp16 matmul to speak of; measure fp32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    latency = measure_latency(lambda: torch.mm(a, b), device, warmup=2, budget_s=3.0)
    return n ** 3 / (latency.median_ms / 1e3) / 1e9
