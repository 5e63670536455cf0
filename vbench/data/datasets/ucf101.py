"""UCF101 (Soomro et al., 2012): 13,320 clips, 101 classes, three train/test splits.

Official files (``UCF101.rar`` and ``UCF101TrainTestSplits-RecognitionTask.zip``):
``UCF-101/<Class>/v_<Class>_gXX_cYY.avi`` and ``ucfTrainTestlist/classInd.txt``
(``<idx> <Class>``, 1-based), ``trainlist0k.txt`` (``<Class>/<file>.avi <idx>``),
``testlist0k.txt`` (``<Class>/<file>.avi``, no label: the class folder gives it through
classInd). All seven files have CRLF endings. The folder names the class, never the
file name (``HandstandPushups`` holds ``v_HandStandPushups_*``). Splits hold out groups
1-7, 8-14 and 15-21: 9537/3783, 9586/3734, 9624/3696 train/test videos.
"""

from __future__ import annotations

from pathlib import Path

from vbench.data.records import DatasetIndex, SplitFileError, VideoRecord, parse_int, read_lines, require, \
    split_present
from vbench.data.registry import register_dataset

LAYOUT = ("ROOT/UCF-101/<Class>/v_<Class>_gXX_cYY.avi and ROOT/ucfTrainTestlist/{classInd.txt, "
          "trainlist0K.txt, testlist0K.txt}")


def read_class_index(path: Path) -> list[str]:
    """classInd.txt: ``<idx> <Class>`` with idx 1..N in order."""
    classes: list[str] = []
    for number, line in read_lines(path):
        parts = line.split()
        if len(parts) != 2:
            raise SplitFileError(path, number, "expected '<index> <ClassName>'")
        index = parse_int(path, number, parts[0], "class index")
        if index != len(classes) + 1:
            raise SplitFileError(path, number, f"class index {index} out of order (expected {len(classes) + 1})")
        classes.append(parts[1])
    if not classes:
        raise SplitFileError(path, None, "no classes")
    return classes


def read_list(path: Path, classes: list[str], labelled: bool) -> list[tuple[str, int]]:
    """(``<Class>/<file>.avi``, 0-based label) of a trainlist (labelled) or testlist."""
    position = {name: i for i, name in enumerate(classes)}
    rows = []
    for number, line in read_lines(path):
        parts = line.split()
        if len(parts) != (2 if labelled else 1):
            expected = "'<Class>/<video>.avi <label>'" if labelled else "'<Class>/<video>.avi'"
            raise SplitFileError(path, number, f"expected {expected}")
        relative = parts[0]
        folder = relative.split("/")[0] if "/" in relative else None
        if folder not in position:
            raise SplitFileError(path, number, f"'{relative[:60]}' is not under a class folder of classInd.txt")
        label = position[folder]
        if labelled:
            given = parse_int(path, number, parts[1], "label")
            if given - 1 != label:
                raise SplitFileError(path, number, f"label {given} disagrees with folder {folder} "
                                                   f"(class {label + 1} in classInd.txt)")
        rows.append((relative, label))
    return rows


@register_dataset("ucf101", description="UCF101: 101 actions, 13,320 YouTube clips, splits 1-3",
                  layout=LAYOUT, splits=(1, 2, 3),
                  source="UCF101 release (crcv.ucf.edu): UCF101.rar, UCF101TrainTestSplits-RecognitionTask.zip",
                  options="none")
def ucf101(root: Path, split: int, subset: str) -> DatasetIndex:
    videos = require(root / "UCF-101", LAYOUT, "folder")
    lists = require(root / "ucfTrainTestlist", LAYOUT, "folder")
    classes = read_class_index(require(lists / "classInd.txt", LAYOUT, "file"))
    name = f"{'trainlist' if subset == 'train' else 'testlist'}0{split}.txt"
    rows = read_list(require(lists / name, LAYOUT, "file"), classes, labelled=subset == "train")
    records = [VideoRecord(id=Path(rel).stem, label=label, path=str(videos / rel)) for rel, label in rows]
    present, missing = split_present(records)
    return DatasetIndex("ucf101", str(root), split, subset, classes, present, missing)
