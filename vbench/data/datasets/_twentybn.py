"""The 20BN frame-folder format shared by Something-Something V1 and Jester.

Frames: ``<frames dir>/<id>/00001.jpg...``; ``<prefix>-labels.csv`` one class a line;
``<prefix>-{train,validation}.csv`` lines ``<id>;<class name>``. Code bases order the
classes differently (TSM's ``tools/gen_label_sthv1.py`` sorts them; others keep the
file's order), and a checkpoint only makes sense with its own order, so the order is an
option (``class_order="sorted"`` by default, or "file") and a user's class list file
(``classes_file``, one name a line) overrides both.
"""

from __future__ import annotations

from pathlib import Path

from vbench.data.records import DatasetIndex, SplitFileError, VideoRecord, first_existing, load_class_list, \
    read_lines, split_present
from vbench.errors import VbenchError

OPTIONS = "class_order (sorted|file), classes_file (one class name a line, index order), frames (folder)"


def read_label_csv(path: Path) -> list[str]:
    names = [line for _, line in read_lines(path)]
    if not names:
        raise SplitFileError(path, None, "no class names")
    if len(set(names)) != len(names):
        raise SplitFileError(path, None, "a class name is listed twice")
    return names


def read_id_csv(path: Path, position: dict[str, int]) -> list[tuple[str, int]]:
    """(id, class index) of each ``<id>;<class name>`` line."""
    rows = []
    for number, line in read_lines(path):
        vid, sep, name = line.partition(";")
        if not sep or not vid.strip() or not name.strip():
            raise SplitFileError(path, number, "expected '<id>;<class name>'")
        if name.strip() not in position:
            raise SplitFileError(path, number, f"class '{name.strip()[:60]}' is not in the class list")
        rows.append((vid.strip(), position[name.strip()]))
    return rows


def index_twentybn(name: str, root: Path, subset: str, *, prefix: str, frames_dir: str, layout: str,
                   class_order: str, classes_file: str | None, frames: str | None,
                   flip_pairs: tuple[tuple[str, str], ...]) -> DatasetIndex:
    def find(kind: str) -> Path:
        names = [f"{prefix}-{kind}.csv", f"{kind}.csv"]
        return first_existing([d / n for d in (root, root / "annotations") for n in names], layout, names[0])

    if class_order not in ("sorted", "file"):
        raise VbenchError(f"class_order must be 'sorted' or 'file', not '{class_order}'")
    if classes_file:
        classes = load_class_list(Path(classes_file).expanduser())
    else:
        classes = read_label_csv(find("labels"))
        classes = sorted(classes) if class_order == "sorted" else classes
    rows = read_id_csv(find("train" if subset == "train" else "validation"), {c: i for i, c in enumerate(classes)})
    folder = root / frames if frames else first_existing([root / frames_dir, root / "frames", root / "rawframes"],
                                                         layout, f"frame folder {frames_dir}")
    records = [VideoRecord(id=vid, label=label, path=str(folder / vid), frame_template="{:05d}.jpg")
               for vid, label in rows]
    present, missing = split_present(records)
    order = "user class list" if classes_file else f"classes in {class_order} order"
    return DatasetIndex(name, str(root), None, subset, classes, present, missing, flip_pairs=flip_pairs,
                        default_flip="none", notes=[order])
