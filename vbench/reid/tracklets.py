"""Tracklets and re-id datasets as the readers return them.

A ``Tracklet`` is one person's frame sequence from one camera: its frame paths (sorted by
frame number), its person id and camera. A ``ReidDataset`` is one trial of a dataset:
the training tracklets, the test tracklets an evaluation reads, the query rows and the
dataset's own gallery rows (both indices into ``test``). How the gallery is finally
built (queries removed or kept, junk dropped) is the protocol's business
(vbench/reid/protocols.py), never the reader's.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

JUNK_ID = -1  # MARS: junk boxes (bad detections); never a match, never counted
DISTRACTOR_ID = 0  # MARS: distractors; a valid gallery entry that matches nobody

_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def frame_number(path: str | Path) -> int:
    """The frame number of a file name: the digits after MARS's ``F``, else the last number."""
    stem = os.path.basename(path).rsplit(".", 1)[0]
    marker = stem.rfind("F")
    if marker >= 0 and stem[marker + 1:].isdigit():
        return int(stem[marker + 1:])
    match = _LAST_NUMBER.search(stem)
    return int(match[1]) if match else -1


def sort_frames(paths) -> tuple[str, ...]:
    """Frame paths in frame-number order (name order for ties)."""
    return tuple(sorted((str(p) for p in paths), key=lambda p: (frame_number(p), os.path.basename(p))))


@dataclass(frozen=True)
class Tracklet:
    """One person seen by one camera: frames in order, person id, camera, a unique key."""

    key: str
    frames: tuple[str, ...]
    pid: int
    camid: int


@dataclass
class ReidDataset:
    """One trial of a video re-id dataset (see module docstring)."""

    name: str
    root: Path
    train: list[Tracklet]
    test: list[Tracklet]
    query: np.ndarray
    gallery: np.ndarray
    trial: int = 0
    num_trials: int = 1
    protocols: tuple[str, ...] = ("official",)
    notes: dict = field(default_factory=dict)

    @property
    def test_pids(self) -> np.ndarray:
        return np.array([t.pid for t in self.test], dtype=np.int64)

    @property
    def test_camids(self) -> np.ndarray:
        return np.array([t.camid for t in self.test], dtype=np.int64)
