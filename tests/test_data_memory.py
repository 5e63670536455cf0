"""eval's allocator setting: a large freed block stays in the heap for the next video's views."""

from __future__ import annotations

import ctypes
import sys

import pytest
import torch

from vbench.data.memory import keep_freed_memory


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def _mmapped_bytes() -> int:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    return libc.mallinfo2().hblkhd


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_large_views_come_from_the_heap_once_kept():
    try:
        _mmapped_bytes()
    except (OSError, AttributeError):
        pytest.skip("no glibc >= 2.33 (mallinfo2) to inspect")
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True  # idempotent
    before = _mmapped_bytes()
    views = torch.empty(64 << 20, dtype=torch.uint8)  # 64 MiB: above glibc's default 32 MiB mmap ceiling
    assert _mmapped_bytes() == before  # served from the heap, so freeing it keeps it for reuse
    del views
