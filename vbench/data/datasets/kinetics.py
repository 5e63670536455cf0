"""Kinetics-400/600/700 (Kay et al., 2017; Carreira et al., 2018, 2019), one reader for all.

Official annotation: CSV with header ``label,youtube_id,time_start,time_end,split``
(``train.csv``, ``validate.csv``, ``test.csv``); classes are the labels of the training
CSV, alphabetical (400, 600 or 700 names). Clips are downloaded by each user, usually
as ``<youtube_id>_<start:06d>_<end:06d>.mp4`` under class folders (spaces become ``_``),
sometimes ``<youtube_id>.mp4``; the folder layout varies, so vbench finds clips by file
name anywhere under ROOT (or ``videos=``). Every copy misses clips (validation: 19,906
in the release, 19,796 or 19,881 in common copies): missing clips are counted, never
fatal, and ``VideoDataset.list_hash()`` identifies the list evaluated. "test" is the
validation CSV, as papers report.
"""

from __future__ import annotations

import csv
import io
import os
from functools import partial
from pathlib import Path

from vbench.data.records import DatasetIndex, SplitFileError, VideoRecord, first_existing, load_class_list, \
    read_text
from vbench.data.registry import register_dataset

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov")
COLUMNS = ("label", "youtube_id", "time_start", "time_end")


def read_csv(path: Path) -> list[tuple[str, str, int, int]]:
    """(label, youtube_id, start, end) of each row."""
    reader = csv.reader(io.StringIO(read_text(path).replace("\r", "")))
    try:
        return _read_rows(path, reader)
    except csv.Error as error:
        raise SplitFileError(path, reader.line_num, f"not valid CSV ({error})") from None


def _read_rows(path: Path, reader) -> list[tuple[str, str, int, int]]:
    header = next(reader, None)
    if header is None or not set(COLUMNS) <= {h.strip() for h in header}:
        raise SplitFileError(path, 1, f"expected a header with {','.join(COLUMNS)}")
    column = {h.strip(): i for i, h in enumerate(header)}
    rows = []
    for row in reader:
        number = reader.line_num
        if not row or not "".join(row).strip():
            continue
        if len(row) != len(header):
            raise SplitFileError(path, number, f"expected {len(header)} fields, found {len(row)}")
        label, youtube_id = row[column["label"]].strip(), row[column["youtube_id"]].strip()
        try:
            start, end = (int(float(row[column[c]])) for c in ("time_start", "time_end"))
        except (ValueError, OverflowError):
            raise SplitFileError(path, number, "time_start and time_end must be numbers") from None
        if not label or not youtube_id:
            raise SplitFileError(path, number, "empty label or youtube_id")
        rows.append((label, youtube_id, start, end))
    return rows


def video_files(folder: Path) -> dict[str, str]:
    """{file stem: path} of every video under ``folder`` (hidden folders skipped)."""
    found: dict[str, str] = {}
    for directory, subdirs, files in os.walk(folder):
        subdirs[:] = [d for d in subdirs if not d.startswith(".")]
        for name in files:
            stem, extension = os.path.splitext(name)
            if extension.lower() in VIDEO_EXTENSIONS:
                found.setdefault(stem, os.path.join(directory, name))
    return found


def index_kinetics(root: Path, split: None, subset: str, *, name: str, expected: int, csv_file: str | None = None,
                   videos: str | None = None, classes_file: str | None = None) -> DatasetIndex:
    layout = (f"ROOT/{{train,validate}}.csv (or ROOT/annotations/...) with header {','.join(COLUMNS)},split "
              "and clips <youtube_id>_<start:06d>_<end:06d>.mp4 anywhere under ROOT (class folders as distributed)")
    folders = (root, root / "annotations", root / name)

    def find(stems: list[str]) -> Path:
        return first_existing([f / f"{s}.csv" for f in folders for s in stems], layout, f"{stems[0]}.csv")

    path = Path(csv_file) if csv_file else find(["train"] if subset == "train" else ["validate", "val"])
    path = path if path.is_absolute() or path.exists() else root / path
    rows = read_csv(path)
    if classes_file:
        classes = load_class_list(Path(classes_file).expanduser())
    else:
        train = path if subset == "train" else next((f / "train.csv" for f in folders if (f / "train.csv").exists()),
                                                   path)
        classes = sorted({row[0] for row in (rows if train == path else read_csv(train))})
    position = {c: i for i, c in enumerate(classes)}
    video_root = root / videos if videos else root
    files = video_files(video_root)
    present, missing = [], []
    for label, youtube_id, start, end in rows:
        if label not in position:
            raise SplitFileError(path, None, f"label '{label[:60]}' is not a class of the training list")
        clip = f"{youtube_id}_{start:06d}_{end:06d}"
        found = files.get(clip) or files.get(youtube_id)
        target = present if found else missing
        target.append(VideoRecord(id=clip, label=position[label], path=found or str(
            video_root / label.replace(" ", "_") / f"{clip}.mp4"), meta={"youtube_id": youtube_id}))
    notes = [] if len(classes) == expected else [f"{len(classes)} classes ({name} has {expected})"]
    return DatasetIndex(name, str(root), None, subset, classes, present, missing, notes=notes)


for _classes in (400, 600, 700):
    register_dataset(
        f"kinetics{_classes}", description=f"Kinetics-{_classes}: {_classes} human actions, 10 s YouTube clips",
        layout=("ROOT/{train,validate}.csv and clips <youtube_id>_<start:06d>_<end:06d>.mp4 under ROOT "
                "(class folders as downloaded)"),
        source="DeepMind Kinetics release: train.csv / validate.csv (label,youtube_id,time_start,time_end,split)",
        options="csv_file (another CSV), videos (folder of the clips), classes_file (one class a line)",
    )(partial(index_kinetics, name=f"kinetics{_classes}", expected=_classes))
