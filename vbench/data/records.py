"""What a dataset module produces: one record a video, and the index of a split.

A dataset module only reads its official files and says, for each video of a split,
where it is, its label and its id. Decoding, sampling and transforms are shared
(``vbench.data.dataset``), so a new dataset (re-id tracklets included) is one small
parser. Split files are read with :func:`read_lines`, which strips CRLF and numbers the
lines, and every malformed line raises :class:`SplitFileError` naming file and line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vbench.errors import VbenchError


class SplitFileError(VbenchError, ValueError):
    """A split or annotation file with a line vbench cannot read."""

    def __init__(self, path: str | os.PathLike, line: int | None, reason: str):
        where = f"{path}, line {line}" if line is not None else str(path)
        reason = reason.replace("\r", "\\r").replace("\n", "\\n")  # quoted file content stays on one line
        super().__init__(f"{where}: {reason}")
        self.path, self.line, self.reason = str(path), line, reason


class LayoutError(VbenchError, FileNotFoundError):
    """A folder or split file that is not where the dataset's layout puts it."""

    def __str__(self) -> str:  # FileNotFoundError would format errno fields
        return str(self.args[0])


@dataclass(frozen=True)
class VideoRecord:
    """One video of a split.

    ``path`` is a video file, or a folder of frames named by ``frame_template`` (1-based
    numbers, ``"{:05d}.jpg"``), or, for tracklets, ``frame_files`` lists the images in
    order. ``num_frames`` is given when the annotation says it (frame lists), else the
    decoder counts. ``meta`` keeps what a task needs beside the label (camera, person id,
    Diving48's start/end frames...).
    """

    id: str
    label: int
    path: str
    num_frames: int | None = None
    frame_template: str | None = None
    frame_files: tuple[str, ...] | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        if self.frame_files is not None:
            return "frame_list"
        if self.frame_template is not None or os.path.isdir(self.path):
            return "frames"
        return "video"


@dataclass
class DatasetIndex:
    """A split as a dataset module reads it: classes in index order and the records.

    ``records`` are the videos found on disk; ``missing`` those the split lists but the
    disk lacks (counted, never fatal). ``flip_pairs`` name the classes a horizontal flip
    turns into each other (Something-Something's "left to right" / "right to left");
    ``default_flip`` is what the dataset's usual training recipe does with flips.
    ``open_reader`` replaces the file decoders for generated data.
    """

    name: str
    root: str
    split: int | None
    subset: str
    classes: list[str]
    records: list[VideoRecord]
    missing: list[VideoRecord] = field(default_factory=list)
    flip_pairs: tuple[tuple[str, str], ...] = ()
    default_flip: str = "random"
    notes: list[str] = field(default_factory=list)
    open_reader: Callable[[VideoRecord], Any] | None = None

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def read_text(path: Path) -> str:
    """The file's text (UTF-8, undecodable bytes replaced) or a SplitFileError."""
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except OSError as error:
        raise SplitFileError(path, None, f"cannot read ({error.strerror or error})") from None


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, text) of each non-blank line, CR and outer spaces stripped."""
    for number, line in enumerate(read_text(path).split("\n"), start=1):
        line = line.replace("\r", "").strip()
        if line:
            yield number, line


def read_json(path: Path) -> Any:
    import json

    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise SplitFileError(path, error.lineno, f"not valid JSON ({error.msg})") from None


def parse_int(path: Path, line: int, text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise SplitFileError(path, line, f"{what} '{text[:40]}' is not an integer") from None


def require(path: Path, layout: str, what: str = "") -> Path:
    """``path`` if it exists, else a LayoutError with the expected layout in one line."""
    if not path.exists():
        kind = what or ("folder" if not path.suffix else "file")
        raise LayoutError(f"no {kind} {path}; expected layout: {layout}")
    return path


def first_existing(candidates: Sequence[Path], layout: str, what: str) -> Path:
    """The first of ``candidates`` that exists, else one line naming them and the layout."""
    for candidate in candidates:
        if candidate.exists():
            return candidate
    tried = ", ".join(str(c) for c in candidates[:4])
    raise LayoutError(f"no {what} (looked for {tried}); expected layout: {layout}")


def load_class_list(path: Path) -> list[str]:
    """A user's class list: one name a line, in index order (``3 name`` lines allowed)."""
    names = []
    for number, line in read_lines(path):
        head, _, tail = line.partition(" ")
        if head.isdigit() and tail.strip():
            line = tail.strip()
        if line in names:
            raise SplitFileError(path, number, f"class '{line}' is listed twice")
        names.append(line)
    if not names:
        raise SplitFileError(path, None, "no class names (expected one name a line)")
    return names


def split_present(records: Sequence[VideoRecord]) -> tuple[list[VideoRecord], list[VideoRecord]]:
    """(records whose file or folder exists, records missing from disk)."""
    present, missing = [], []
    for record in records:
        paths = record.frame_files[:1] if record.frame_files else (record.path,)
        (present if all(os.path.exists(p) for p in paths) else missing).append(record)
    return present, missing


def check_split(name: str, split: int | None, splits: Sequence[int]) -> int | None:
    if not splits:
        if split not in (None, 1):
            raise VbenchError(f"{name} has one official split; drop --split (got {split})")
        return None
    if split is None:
        return splits[0]
    if split not in splits:
        raise VbenchError(f"{name} has splits {', '.join(map(str, splits))}, not {split}")
    return split
