"""Child process of the CPU memory measurement (see ``memory.py``).

    python -m vbench.profiling.memory_probe '{"model": "tsm_r50", ...}'
    python -m vbench.profiling.memory_probe --wait   # imports first, then one request from stdin

Prints one JSON line: ``{"mib": ..., "method": ...}``. With ``--wait`` the probe does its
imports, prints ``ready`` and blocks until the request arrives on stdin: the same fresh
process measuring the same way, started while the parent does other work.
"""

from __future__ import annotations

import json
import sys


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_high_water_mark() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def prepare():
    """The imports, which are code and not the model's memory: torch, the parent's plugins
    (so that a user's model can be built here), the model files and torchvision's models."""
    from vbench.models.registry import list_models
    from vbench.plugins import load_from_environment
    from vbench.profiling.execution import build_for_measurement

    load_from_environment()
    list_models()
    return build_for_measurement


def main(request: dict) -> dict:
    import resource

    import torch

    build_for_measurement = prepare()
    torch.set_num_threads(request.get("threads") or torch.get_num_threads())
    before = _status_kib("VmRSS")
    model, inputs, run = build_for_measurement(request, torch.device("cpu"))
    reset = _reset_high_water_mark()
    run()
    peak = _status_kib("VmHWM")
    if before is None or peak is None:  # not Linux: ru_maxrss is the lifetime peak in KiB
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        before = before or 0
        method = "lifetime peak RSS (ru_maxrss) of a fresh process, minus its RSS before the model was built"
    elif reset:
        method = ("peak RSS (VmHWM, reset by clear_refs before the pass) of a fresh process during one forward "
                  "pass, minus its RSS before the model was built")
    else:
        method = "lifetime peak RSS (VmHWM) of a fresh process, minus its RSS before the model was built"
    return {"mib": (peak - before) / 1024, "method": method}


if __name__ == "__main__":
    if sys.argv[1:] == ["--wait"]:
        prepare()
        print("ready", flush=True)
        print(json.dumps(main(json.loads(sys.stdin.readline()))))
    else:
        print(json.dumps(main(json.loads(sys.argv[1]))))
