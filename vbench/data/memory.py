"""Keep freed large buffers in the process so the next video's views reuse them.

A test item of 30 views is a fresh 190 MB float tensor. glibc serves such a block with
``mmap`` and returns it to the system on free, so every item page-faults its whole
output in again; on a VM that reports freed pages to its host (Firecracker here) those
faults cost about as much as decoding the video (kinetics-10x3 item: 449 ms -> 251 ms
median with this on, results/data-pipeline.md). Raising glibc's mmap and trim thresholds
keeps freed blocks in the heap for reuse; the process then holds its peak memory, which
an eval loop reaches on every item anyway. Forked DataLoader workers inherit the setting.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1  # glibc malloc.h
_M_MMAP_THRESHOLD = -3
_KEEP_BYTES = 1 << 30  # blocks up to 1 GiB come from (and return to) the heap
_done = False


def keep_freed_memory() -> bool:
    """Raise glibc's mmap/trim thresholds once; False where there is no glibc (macOS, musl)."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    _done = bool(mallopt(_M_MMAP_THRESHOLD, _KEEP_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES))
    return _done
