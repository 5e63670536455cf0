"""MARS (Zheng et al., ECCV 2016) read as distributed.

Layout: ``bbox_train/<pid>/<name>.jpg``, ``bbox_test/<pid>/<name>.jpg`` (256x128 crops,
names ``0001C1T0001F001.jpg``: person, camera, tracklet, frame; junk boxes sit in
``00-1/``, distractors in ``0000/``), and ``info/``:

- ``train_name.txt`` / ``test_name.txt``: one image name a line; the line number
  (1-based) is the image's index. Written by MATLAB with CRLF line ends.
- ``tracks_train_info.mat`` / ``tracks_test_info.mat``: variables ``track_train_info``
  (8298 x 4) and ``track_test_info`` (12180 x 4); a row is (start, end, person id, camera),
  start and end 1-based and inclusive indices into the name list.
- ``query_IDX.mat``: variable ``query_IDX`` (1 x 1980), 1-based rows of the test tracks.

Person id -1 marks junk tracklets, 0 distractors. Counts of the official release: 625
training identities, 8298 training tracklets, 12180 test tracklets (870 junk, 3248
distractor), 1980 queries of 626 identities. The dataset's own evaluation
(liangzheng06/MARS-evaluation, ``test_mars.m``) uses every test tracklet as gallery,
queries included: ``gallery`` here is every test row; protocols take it from there.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vbench.errors import VbenchError
from vbench.reid.tracklets import ReidDataset, Tracklet, frame_number

PROTOCOLS = ("official", "query-removed", "query-included")


def read_names(path: Path) -> list[str]:
    """Image names of ``train_name.txt`` / ``test_name.txt`` (CRLF tolerated, blank lines skipped)."""
    if not path.is_file():
        raise VbenchError(f"MARS name list not found: {path}")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def read_mat_matrix(path: Path, variable: str) -> np.ndarray:
    """A numeric matrix from a MATLAB file: ``variable``, or the file's only variable."""
    from scipy.io import loadmat

    if not path.is_file():
        raise VbenchError(f"MATLAB file not found: {path}")
    try:
        content = loadmat(str(path))
    except (ValueError, NotImplementedError, OSError) as error:
        raise VbenchError(f"cannot read {path} as a MATLAB (v5) file: {error}") from None
    names = [k for k in content if not k.startswith("__")]
    if variable in content:
        return np.asarray(content[variable])
    if len(names) == 1:
        return np.asarray(content[names[0]])
    raise VbenchError(f"{path} has no variable '{variable}' (it has: {', '.join(names) or 'none'})")


def read_tracks(path: Path, variable: str) -> np.ndarray:
    """(start, end, pid, camera) rows as int64; start/end still 1-based."""
    tracks = read_mat_matrix(path, variable).astype(np.int64)
    if tracks.ndim != 2 or tracks.shape[1] != 4:
        raise VbenchError(f"{path}: expected rows of (start, end, person id, camera), got shape {tracks.shape}")
    return tracks


def _tracklets(root: Path, subset: str, names: list[str], tracks: np.ndarray) -> list[Tracklet]:
    folder = os.path.join(str(root), f"bbox_{subset}")
    out = []
    for row, (start, end, pid, cam) in enumerate(tracks.tolist()):
        if not 1 <= start <= end <= len(names):
            raise VbenchError(f"MARS {subset} track {row + 1}: frames {start}..{end} fall outside "
                              f"the {len(names)} names of info/{subset}_name.txt")
        chunk = names[start - 1:end]
        numbers = [frame_number(name) for name in chunk]
        if any(a > b for a, b in zip(numbers, numbers[1:])):  # the lists are usually in order already
            chunk = [name for _, name in sorted(zip(numbers, chunk))]
        frames = tuple(os.path.join(folder, name[:4], name) for name in chunk)
        out.append(Tracklet(f"{subset}/{row:05d}", frames, int(pid), int(cam)))
    return out


def read_mars(root: str | Path, trial: int = 0) -> ReidDataset:
    """MARS as distributed under ``root`` (one trial only)."""
    root = Path(root)
    if trial != 0:
        raise VbenchError("MARS has a single train/test split: trial must be 0")
    info = root / "info"
    train = _tracklets(root, "train", read_names(info / "train_name.txt"),
                       read_tracks(info / "tracks_train_info.mat", "track_train_info"))
    test = _tracklets(root, "test", read_names(info / "test_name.txt"),
                      read_tracks(info / "tracks_test_info.mat", "track_test_info"))
    query = read_mat_matrix(info / "query_IDX.mat", "query_IDX").astype(np.int64).ravel() - 1
    if query.size and (query.min() < 0 or query.max() >= len(test)):
        raise VbenchError(f"info/query_IDX.mat names rows outside the {len(test)} test tracks")
    return ReidDataset("mars", root, train, test, query, np.arange(len(test)), protocols=PROTOCOLS)
