"""iLIDS-VID (Wang et al., ECCV 2014) and PRID-2011 (Hirzer et al., SCIA 2011) multi-shot.

Both are two-camera datasets with one tracklet per person and camera, evaluated over 10
random trials of a half/half identity split; query = the first camera, gallery = the
second; the figure reported is the mean over the trials.

iLIDS-VID: ``i-LIDS-VID/sequences/cam1|cam2/personXXX/*.png`` (300 people) and
``train-test people splits/train_test_splits_ilidsvid.mat``, variable ``ls_set`` (10 x
300): each row a permutation of 1-based indices into the person folders sorted by name;
the first 150 are the test people, the rest the training people (as the common PyTorch
loaders read it, "following Wang et al. ECCV'14").

PRID-2011: ``prid_2011/multi_shot/cam_a|cam_b/person_XXXX/*.png`` and a splits JSON
(``splits_prid2011.json``: a list of 10 ``{"train": [folder names], "test": [folder
names]}``, the format the common PyTorch loaders read; usually the 178 people seen by
both cameras with at least 27 frames, 89/89).

Person ids are the numbers in the folder names, cameras 1 and 2. A person folder
missing in one camera gives an empty tracklet (counted by the check, skipped by
feature extraction with an error naming it).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vbench.errors import VbenchError
from vbench.reid.mars import read_mat_matrix
from vbench.reid.tracklets import ReidDataset, Tracklet, frame_number, sort_frames

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def _frames(folder: Path) -> tuple[str, ...]:
    if not folder.is_dir():
        return ()
    return sort_frames(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _two_camera_dataset(name: str, root: Path, cameras: tuple[Path, Path], train_people: list[str],
                        test_people: list[str], trial: int, num_trials: int) -> ReidDataset:
    def tracklets(people: list[str], cams: tuple[int, ...]) -> list[Tracklet]:
        return [Tracklet(f"{cameras[c - 1].name}/{person}", _frames(cameras[c - 1] / person),
                         frame_number(person), c) for person in people for c in cams]

    test = tracklets(test_people, (1,)) + tracklets(test_people, (2,))
    half = len(test_people)
    return ReidDataset(name, root, tracklets(train_people, (1, 2)), test, np.arange(half),
                       np.arange(half, 2 * half), trial=trial, num_trials=num_trials)


def _camera_folders(root: Path, base: str, cameras: tuple[str, str], label: str) -> tuple[Path, Path]:
    first, second = (root / base / c for c in cameras)
    if not first.is_dir():
        raise VbenchError(f"{label} sequences not found: {first}")
    return first, second


def _check_trial(trial: int, num_trials: int, name: str) -> None:
    if not 0 <= trial < num_trials:
        raise VbenchError(f"{name} has {num_trials} trials (0..{num_trials - 1}); trial {trial} does not exist")


def read_ilidsvid(root: str | Path, trial: int = 0, splits: str | Path | None = None) -> ReidDataset:
    """One trial of iLIDS-VID under ``root`` (the folder holding ``i-LIDS-VID/``)."""
    root = Path(root)
    cam1, cam2 = _camera_folders(root, "i-LIDS-VID/sequences", ("cam1", "cam2"), "iLIDS-VID")
    split_path = Path(splits) if splits else root / "train-test people splits" / "train_test_splits_ilidsvid.mat"
    ls_set = read_mat_matrix(split_path, "ls_set").astype(np.int64)
    if ls_set.ndim != 2 or ls_set.shape[1] % 2:
        raise VbenchError(f"{split_path}: ls_set must be trials x (an even number of people), got {ls_set.shape}")
    _check_trial(trial, ls_set.shape[0], "iLIDS-VID")
    people = sorted(p.name for p in cam1.iterdir() if p.is_dir())
    if ls_set.max() > len(people) or ls_set.min() < 1:
        raise VbenchError(f"{split_path} indexes {ls_set.max()} people but {cam1} holds {len(people)} folders")
    half = ls_set.shape[1] // 2
    test = sorted(people[i - 1] for i in ls_set[trial, :half])
    train = sorted(people[i - 1] for i in ls_set[trial, half:])
    return _two_camera_dataset("ilidsvid", root, (cam1, cam2), train, test, trial, ls_set.shape[0])


def read_prid2011(root: str | Path, trial: int = 0, splits: str | Path | None = None) -> ReidDataset:
    """One trial of PRID-2011 multi-shot under ``root`` (the folder holding ``prid_2011/``)."""
    root = Path(root)
    cam_a, cam_b = _camera_folders(root, "prid_2011/multi_shot", ("cam_a", "cam_b"), "PRID-2011")
    split_path = Path(splits) if splits else root / "splits_prid2011.json"
    if not split_path.is_file():
        raise VbenchError(f"PRID-2011 splits file not found: {split_path} (a JSON list of "
                          '{"train": [...], "test": [...]} person folder names, one entry a trial)')
    try:
        trials = json.loads(split_path.read_text())
        pairs = [(list(t["train"]), list(t["test"])) for t in trials]
    except (ValueError, KeyError, TypeError) as error:
        raise VbenchError(f"{split_path} is not a list of train/test splits: {error}") from None
    _check_trial(trial, len(pairs), "PRID-2011")
    train, test = pairs[trial]
    return _two_camera_dataset("prid2011", root, (cam_a, cam_b), sorted(train), sorted(test), trial, len(pairs))
