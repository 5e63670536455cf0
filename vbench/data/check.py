"""``vbench data check``: is a dataset where vbench expects it, and complete?

Reads the split's official files, counts classes, videos, files missing from disk and,
with ``decode=True``, videos that cannot be decoded (each is opened and its first,
middle and last frames decoded). Empty files count as unreadable even without decoding.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vbench.data.decoding import DecodeError, check_decoder, open_reader
from vbench.data.registry import index_dataset

SHOWN_PROBLEMS = 10


@dataclass
class CheckReport:
    dataset: str
    split: int | None
    subset: str
    root: str
    classes: int
    videos: int  # listed by the split
    present: int
    missing: int
    unreadable: int
    decoded: bool
    problems: list[dict[str, str]] = field(default_factory=list)  # the first few: {path, problem}
    class_names: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.missing == 0 and self.unreadable == 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_dataset(name: str, root: str | Path | None = None, split: int | None = None, subset: str = "test", *,
                  decode: bool = False, decoder: str = "pyav", on_video: Callable[[], None] | None = None,
                  **options: Any) -> CheckReport:
    """Count what the split lists, what is missing and what cannot be read."""
    check_decoder(decoder)
    index = index_dataset(name, root, split, subset, **options)
    problems = [{"path": r.path, "problem": "missing"} for r in index.missing[:SHOWN_PROBLEMS]]
    unreadable = 0
    for record in index.records:
        reason = _problem(record, index, decode, decoder)
        if reason:
            unreadable += 1
            if len(problems) < SHOWN_PROBLEMS:
                problems.append({"path": record.path, "problem": reason})
        if on_video:
            on_video()
    listed = len(index.records) + len(index.missing)
    return CheckReport(dataset=index.name, split=index.split, subset=index.subset, root=index.root,
                       classes=index.num_classes, videos=listed, present=len(index.records),
                       missing=len(index.missing), unreadable=unreadable, decoded=decode, problems=problems,
                       class_names=list(index.classes), notes=list(index.notes))


def _problem(record, index, decode: bool, decoder: str) -> str | None:
    if record.kind == "video" and index.open_reader is None:
        try:
            if os.path.getsize(record.path) == 0:
                return "empty file"
        except OSError as error:
            return f"cannot stat: {error.strerror}"
    if not decode:
        return None
    try:
        reader = index.open_reader(record) if index.open_reader else open_reader(record, decoder)
        try:
            n = reader.num_frames
            reader.get(sorted({0, n // 2, n - 1}))
        finally:
            reader.close()
    except DecodeError as error:
        return str(error)
    except (OSError, RuntimeError, ValueError, IndexError) as error:
        return f"{type(error).__name__}: {str(error).splitlines()[0][:100] if str(error) else ''}"
    return None
