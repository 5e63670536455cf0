"""Peak memory of one forward pass, measured honestly.

CUDA: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``: the
weights, the input and every activation alive at the worst moment.

CPU: there is no allocator counter to reset, and the process's own peak resident set
already holds earlier models and the allocator's cached pages. So the forward pass runs
in a fresh Python process (``vbench.profiling.memory_probe``), which reads its resident
set before building the model, resets the kernel's high-water mark (Linux
``/proc/self/clear_refs``), runs the pass and reads the high-water mark (``VmHWM``).
The figure is HWM minus the resident set before the model: weights, input,
activations and the workspaces of the CPU kernels, comparable in scope with the CUDA
figure. Where the reset is not allowed, the lifetime peak of the probe is used and the
record says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

MIB = 1 << 20


@dataclass
class PeakMemory:
    mib: float
    method: str


def cuda_peak_memory(fn: Callable[[], object], device: torch.device) -> PeakMemory:
    torch.cuda.synchronize(device)
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    torch.cuda.synchronize(device)
    return PeakMemory(torch.cuda.max_memory_allocated(device) / MIB,
                      "torch.cuda.max_memory_allocated after reset_peak_memory_stats (weights+input+activations)")


def cpu_peak_memory(request: dict, timeout_s: float = 600) -> PeakMemory:
    """Run the probe in a fresh process for the model described by ``request``."""
    package_root = str(Path(__file__).resolve().parents[2])  # so the probe imports this very vbench
    path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    from vbench.plugins import child_environment

    env = dict(os.environ, OMP_NUM_THREADS=str(torch.get_num_threads()), PYTHONPATH=path,
               **child_environment(request["model"]))  # a user's model is rebuilt from its plugin
    proc = subprocess.run([sys.executable, "-m", "vbench.profiling.memory_probe", json.dumps(request)],
                          capture_output=True, text=True, timeout=timeout_s, env=env)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        reason = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"memory probe failed: {reason}")
    result = json.loads(lines[-1])
    return PeakMemory(result["mib"], result["method"])
