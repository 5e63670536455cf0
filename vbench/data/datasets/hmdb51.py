"""HMDB51 (Kuehne et al., 2011): 6,766 clips, 51 classes, three 70/30 splits.

Official files (``hmdb51_org.rar``, ``test_train_splits.rar``): ``<class>/<name>.avi``
and ``testTrainMulti_7030_splits/<class>_test_split<k>.txt``, lines ``<name>.avi <t>``
(often with a trailing space) with t = 1 train, 2 test, 0 unused. Class names contain
underscores and prefix each other (``climb`` / ``climb_stairs``), so the class is the file
name cut at its last ``_test_split``; video names contain ``( ) [ ] ! ~ @ ; # & +``.
No official class index exists: classes are ordered alphabetically. Every split has
3570 train / 1530 test videos.
"""

from __future__ import annotations

import re
from pathlib import Path

from vbench.data.records import DatasetIndex, LayoutError, SplitFileError, VideoRecord, first_existing, read_lines, \
    split_present
from vbench.data.registry import register_dataset

LAYOUT = "ROOT/<class>/<name>.avi (or ROOT/hmdb51_org/...) and ROOT/testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt"
_SPLIT_FILE = re.compile(r"^(?P<cls>.+)_test_split(?P<k>\d+)\.txt$")
SUBSET_CODE = {"train": 1, "test": 2}


def read_split_file(path: Path) -> list[tuple[str, int]]:
    """(video file name, t) of each line; t is 0 (unused), 1 (train) or 2 (test)."""
    rows = []
    for number, line in read_lines(path):
        parts = line.rsplit(None, 1)
        if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
            raise SplitFileError(path, number, "expected '<video>.avi <0|1|2>'")
        rows.append((parts[0], int(parts[1])))
    return rows


def split_files(folder: Path, split: int) -> dict[str, Path]:
    """{class: its split file} for split ``split``, classes cut at the last ``_test_split``."""
    found = {}
    for path in folder.iterdir():
        match = _SPLIT_FILE.match(path.name)
        if match and int(match["k"]) == split:
            found[match["cls"]] = path
    return found


@register_dataset("hmdb51", description="HMDB51: 51 actions, 6,766 clips, splits 1-3 (70/30 per class)",
                  layout=LAYOUT, splits=(1, 2, 3),
                  source="HMDB51 release (serre-lab.clps.brown.edu): hmdb51_org.rar, test_train_splits.rar",
                  options="none")
def hmdb51(root: Path, split: int, subset: str) -> DatasetIndex:
    splits_dir = first_existing([root / "testTrainMulti_7030_splits", root / "test_train_splits" /
                                 "testTrainMulti_7030_splits"], LAYOUT, "split folder testTrainMulti_7030_splits")
    files = split_files(splits_dir, split)
    if not files:
        raise LayoutError(f"no <class>_test_split{split}.txt in {splits_dir}; expected layout: {LAYOUT}")
    classes = sorted(files)
    videos = next((d for d in (root, root / "hmdb51_org", root / "videos") if (d / classes[0]).is_dir()), root)
    code = SUBSET_CODE[subset]
    records = []
    for label, name in enumerate(classes):
        for video, t in read_split_file(files[name]):
            if t == code:
                records.append(VideoRecord(id=Path(video).stem, label=label, path=str(videos / name / video)))
    present, missing = split_present(records)
    notes = [] if len(classes) == 51 else [f"{len(classes)} classes (the release has 51)"]
    return DatasetIndex("hmdb51", str(root), split, subset, classes, present, missing, notes=notes)
