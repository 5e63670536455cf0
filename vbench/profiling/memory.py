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
import select
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from vbench.errors import VbenchError

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


def _probe_environment(model: str) -> dict[str, str]:
    package_root = str(Path(__file__).resolve().parents[2])  # so the probe imports this very vbench
    path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    from vbench.plugins import child_environment

    return dict(os.environ, OMP_NUM_THREADS=str(torch.get_num_threads()), PYTHONPATH=path,
                **child_environment(model))  # a user's model is rebuilt from its plugin


class ProbeSupply:
    """Fresh probe processes started one measurement ahead.

    A probe's start (Python, torch, the model files: seconds) is paid while the previous
    probe measures and the runner builds the next model and counts its FLOPs, work that
    CPU contention does not bias;
    ``settle`` waits for the started probe to be idle before a latency is timed. Each probe
    is still a fresh process measuring once, so the figures are those of ``cpu_peak_memory``.
    """

    def __init__(self):
        self._next: tuple[dict, subprocess.Popen] | None = None
        self._ready = False  # the started probe has said "ready"

    def _start(self, environment: dict[str, str]) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "vbench.profiling.memory_probe", "--wait"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=environment)

    def prefetch(self, model: str) -> None:
        """Start the probe for ``model``'s measurement (a no-op when one for its environment runs;
        a model no child can rebuild is left to its measurement, which says why)."""
        try:
            environment = _probe_environment(model)
        except VbenchError:
            return
        if self._next is not None and self._next[0] == environment and self._next[1].poll() is None:
            return
        self.close()
        self._next = (environment, self._start(environment))
        self._ready = False

    def settle(self, timeout_s: float = 120) -> None:
        """Wait until the started probe has done its imports and sits idle."""
        if self._next is None or self._ready:
            return
        process = self._next[1]
        ready, _, _ = select.select([process.stdout], [], [], timeout_s)
        if ready and process.stdout.readline().strip() == "ready":
            self._ready = True
        else:
            self.close()  # measured by a fresh process instead

    def measure(self, request: dict, timeout_s: float) -> dict:
        self.prefetch(request["model"])
        self.settle(timeout_s)
        if self._next is None:
            return _measure_fresh(request, timeout_s)
        _, process = self._next
        self._next, self._ready = None, False
        self.prefetch(request["model"])  # the next probe starts while this one measures (no timing runs now)
        try:
            output, errors = process.communicate(json.dumps(request) + "\n", timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            raise RuntimeError(f"memory probe gave no answer in {timeout_s:.0f} s") from None
        return _result(process.returncode, output, errors)

    def close(self) -> None:
        if self._next is not None:
            self._next[1].kill()
            self._next[1].communicate()
            self._next, self._ready = None, False


def _result(returncode: int, output: str, errors: str) -> dict:
    lines = [line for line in output.splitlines() if line.startswith("{")]
    if returncode != 0 or not lines:
        reason = (errors.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"memory probe failed: {reason}")
    return json.loads(lines[-1])


def _measure_fresh(request: dict, timeout_s: float) -> dict:
    proc = subprocess.run([sys.executable, "-m", "vbench.profiling.memory_probe", json.dumps(request)],
                          capture_output=True, text=True, timeout=timeout_s, env=_probe_environment(request["model"]))
    return _result(proc.returncode, proc.stdout, proc.stderr)


def cpu_peak_memory(request: dict, timeout_s: float = 600, supply: ProbeSupply | None = None) -> PeakMemory:
    """Peak memory of the model described by ``request``, in a fresh process: one ``supply``
    started ahead, or one started now."""
    result = supply.measure(request, timeout_s) if supply is not None else _measure_fresh(request, timeout_s)
    return PeakMemory(result["mib"], result["method"])
