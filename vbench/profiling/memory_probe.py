"""Child process of the CPU memory measurement (see ``memory.py``).

    python -m vbench.profiling.memory_probe '{"model": "tsm_r50", ...}'
    python -m vbench.profiling.memory_probe --serve  # imports once, then a fresh child per request

Prints one JSON line: ``{"mib": ..., "method": ...}`` (or ``{"error": ...}``). With
``--serve`` the process does its imports, prints ``ready``, and for every request line
on stdin forks a child that measures it and exits: each child is a fresh process whose
memory before the model is the imports alone, exactly as a probe started for one request,
but without paying Python's and torch's start (seconds) per measurement. The server
itself never runs a tensor op, so no thread pool exists to be broken by the fork.

One difference must be undone: ``fork`` does not copy the page-table entries of
read-only file mappings (the code of Python, torch and the libraries), so a child would
fault back in, during the measured pass, every code page the imports had already touched
(12 MiB for tsn_r18) and count it as the model's. The child first touches exactly the
file-backed pages resident in the server (``/proc/self/pagemap``), so its resident set
before the model is the server's, as a fresh probe's would be.
"""

from __future__ import annotations

import json
import os
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


# glibc raises its mmap threshold when a large block is freed, which would change how the
# child allocates the model's tensors: every temporary here stays under the default 128 KiB
_CHUNK_PAGES = 8192


def _resident_file_pages() -> list:
    """(start address, offsets of the pages present in this process) of each readable
    file mapping; empty where ``/proc`` cannot tell (then nothing is touched)."""
    import numpy as np

    page = os.sysconf("SC_PAGE_SIZE")
    found = []
    try:
        with open("/proc/self/maps") as maps:
            lines = maps.read().splitlines()
        with open("/proc/self/pagemap", "rb", buffering=0) as pagemap:
            for line in lines:
                fields = line.split()
                path = fields[5] if len(fields) > 5 else ""
                if not path.startswith("/") or path.startswith(("/dev/", "/proc/", "/sys/")) or "r" not in fields[1]:
                    continue
                start, end = (int(x, 16) for x in fields[0].split("-"))
                for first in range(start // page, end // page, _CHUNK_PAGES):
                    count = min(_CHUNK_PAGES, end // page - first)
                    pagemap.seek(first * 8)
                    entries = np.frombuffer(pagemap.read(count * 8), dtype=np.uint64)
                    present = np.flatnonzero(entries >> np.uint64(63))
                    if present.size:
                        found.append(((first + int(present[0])) * page, (present - present[0]) * page))
    except OSError:
        return []
    return found


def _touch(pages: list) -> None:
    """Read one byte of each page (maps it into this process, as it was in the server)."""
    import ctypes

    import numpy as np

    for start, offsets in pages:
        memory = np.ctypeslib.as_array((ctypes.c_ubyte * (int(offsets[-1]) + 1)).from_address(start))
        int(memory[offsets].sum())


def _measure_in_child(request: dict, resident: list) -> dict:
    """Fork, measure in the child, return what it wrote (or why it wrote nothing)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: measure once, write one line, leave without running the server's exit code
        os.close(read_end)
        try:
            _touch(resident)
            answer = main(request)
        except BaseException as error:  # noqa: BLE001  (reported to the parent, which raises it)
            answer = {"error": f"{type(error).__name__}: {error}"}
        with os.fdopen(write_end, "w") as out:
            out.write(json.dumps(answer))
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as answer:
        text = answer.read()
    _, status = os.waitpid(pid, 0)
    if text:
        return json.loads(text)
    if os.WIFSIGNALED(status):
        return {"error": f"the measuring process was killed by signal {os.WTERMSIG(status)} (out of memory?)"}
    return {"error": f"the measuring process exited with status {os.waitstatus_to_exitcode(status)}"}


def serve() -> None:
    prepare()
    resident = _resident_file_pages()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(_measure_in_child(json.loads(line), resident)), flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        print(json.dumps(main(json.loads(sys.argv[1]))))
