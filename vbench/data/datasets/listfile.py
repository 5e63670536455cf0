"""Any dataset given as annotation lists, the format TSN, TSM and mmaction2 users already have.

One video a line: ``<path> <label>`` (a video file, or a frame folder) or
``<path> <num_frames> <label>`` (a frame folder, TSN/TSM ``*_videofolder.txt`` and
mmaction2 rawframe lists). Paths are relative to ROOT (or absolute); labels are 0-based
class indices. Frame files are found by name (``img_00001.jpg``, ``00001.jpg``,
``000001.jpg``... or ``frame_template=``). Class names come from ``classes_file`` (one a
line, index order; classInd-style ``1 name`` lines are accepted), else they are the
label numbers.
"""

from __future__ import annotations

from pathlib import Path

from vbench.data.records import DatasetIndex, SplitFileError, VideoRecord, load_class_list, parse_int, \
    read_lines, require, split_present
from vbench.data.registry import register_dataset
from vbench.errors import VbenchError

LAYOUT = "a list file with lines '<path> <label>' or '<path> <num_frames> <label>', paths relative to ROOT"


def read_list(path: Path) -> list[tuple[str, int | None, int]]:
    """(path, num_frames or None, label) of each line."""
    rows = []
    for number, line in read_lines(path):
        parts = line.split()
        if len(parts) not in (2, 3):
            raise SplitFileError(path, number, "expected '<path> <label>' or '<path> <num_frames> <label>'")
        label = parse_int(path, number, parts[-1], "label")
        frames = parse_int(path, number, parts[1], "frame count") if len(parts) == 3 else None
        if label < 0 or (frames is not None and frames < 1):
            raise SplitFileError(path, number, "labels must be >= 0 and frame counts >= 1")
        rows.append((parts[0], frames, label))
    return rows


@register_dataset("list", description="any dataset as TSN/mmaction2 annotation lists ('path label' lines)",
                  layout=LAYOUT, source="TSN / TSM / mmaction2 list files",
                  options="train_list, test_list (or list_file), classes_file, frame_template")
def list_dataset(root: Path, split: None, subset: str, train_list: str | None = None, test_list: str | None = None,
                 list_file: str | None = None, classes_file: str | None = None,
                 frame_template: str | None = None) -> DatasetIndex:
    chosen = list_file or (train_list if subset == "train" else test_list)
    if not chosen:
        raise VbenchError(f"the list dataset needs {'train_list' if subset == 'train' else 'test_list'}=FILE "
                          f"(or list_file=FILE): {LAYOUT}")
    path = Path(chosen).expanduser()
    path = require(path if path.is_absolute() else root / path, LAYOUT, "list file")
    rows = read_list(path)
    if classes_file:
        class_path = Path(classes_file).expanduser()
        classes = load_class_list(class_path if class_path.is_absolute() else root / class_path)
        too_big = max((label for _, _, label in rows), default=-1)
        if too_big >= len(classes):
            raise SplitFileError(path, None, f"label {too_big} but {classes_file} has {len(classes)} classes")
    else:
        classes = [str(i) for i in range(max((label for _, _, label in rows), default=-1) + 1)]
    records = []
    for relative, frames, label in rows:
        full = Path(relative) if Path(relative).is_absolute() else root / relative
        template = frame_template if frames is not None or full.is_dir() else None
        records.append(VideoRecord(id=relative, label=label, path=str(full), num_frames=frames,
                                   frame_template=template))
    present, missing = split_present(records)
    return DatasetIndex("list", str(root), None, subset, classes, present, missing)
