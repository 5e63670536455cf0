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
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    """Fresh measuring processes without Python's and torch's start each time.

    One server process (``memory_probe --serve``) imports torch and the model files once,
    started at the run's beginning while the runner builds the first model; each
    measurement is a child it forks, a fresh process measuring once, so the figures are
    those of ``cpu_peak_memory`` (tested). The server sits idle on a read while a latency
    is timed; ``settle`` waits for its imports to finish before the first timing. A model
    whose plugins need another environment gets a server of its own.
    """

    def __init__(self):
        self._server: tuple[dict, subprocess.Popen, Any] | None = None
        self._ready = False  # the server has said "ready"

    def prefetch(self, model: str) -> None:
        """Have a server for ``model``'s environment started (a no-op when one runs; a model
        no child can rebuild is left to its measurement, which says why)."""
        try:
            environment = _probe_environment(model)
        except VbenchError:
            return
        if self._server is not None and self._server[0] == environment and self._server[1].poll() is None:
            return
        self.close()
        errors = tempfile.TemporaryFile("w+")  # a long-lived process must not fill a pipe nobody reads
        process = subprocess.Popen([sys.executable, "-m", "vbench.profiling.memory_probe", "--serve"],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True,
                                   env=environment)
        self._server, self._ready = (environment, process, errors), False

    def settle(self, timeout_s: float = 120) -> None:
        """Wait until the server has done its imports and sits idle."""
        if self._server is None or self._ready:
            return
        if self._answer(timeout_s) == "ready":
            self._ready = True
        else:
            self.close()  # measured by a fresh process instead

    def _answer(self, timeout_s: float) -> str | None:
        process = self._server[1]
        ready, _, _ = select.select([process.stdout], [], [], timeout_s)
        return process.stdout.readline().strip() if ready else None

    def measure(self, request: dict, timeout_s: float) -> dict:
        self.prefetch(request["model"])
        self.settle(timeout_s)
        if self._server is None:
            return _measure_fresh(request, timeout_s)
        process = self._server[1]
        try:
            process.stdin.write(json.dumps(request) + "\n")
            process.stdin.flush()
            line = self._answer(timeout_s)
        except OSError:
            line = None
        if not line:
            reason = self._last_error() or f"no answer in {timeout_s:.0f} s"
            self.close()
            raise RuntimeError(f"memory probe failed: {reason}")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"memory probe failed: {answer['error']}")
        return answer

    def _last_error(self) -> str | None:
        errors = self._server[2]
        errors.seek(0)
        lines = errors.read().strip().splitlines()
        return lines[-1] if lines else None

    def close(self) -> None:
        if self._server is not None:
            _, process, errors = self._server
            process.kill()
            process.communicate()
            errors.close()
            self._server, self._ready = None, False


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
