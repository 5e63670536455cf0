"""Diving48 (Li, Li and Vasconcelos, ECCV 2018): 18,404 dive clips, 48 dive classes.

Official files: ``rgb/<vid_name>.mp4``; ``Diving48_V2_train.json`` /
``Diving48_V2_test.json`` (V1: ``Diving48_train.json`` / ``Diving48_test.json``): lists
of ``{vid_name, label 0..47, start_frame, end_frame}``; ``Diving48_vocab.json``: 48
entries ``[takeoff, somersault, twist, flight]`` naming each class. The rgb clips are
already trimmed, so start/end frames are kept in ``meta`` only. Records say V1 or V2
(V2, the cleaned labels, is the default and what recent papers use).
"""

from __future__ import annotations

from pathlib import Path

from vbench.data.records import DatasetIndex, SplitFileError, VideoRecord, first_existing, read_json, require, \
    split_present
from vbench.data.registry import register_dataset
from vbench.errors import VbenchError

LAYOUT = "ROOT/rgb/<vid_name>.mp4, ROOT/Diving48_V2_{train,test}.json and ROOT/Diving48_vocab.json"


def read_vocab(path: Path) -> list[str]:
    data = read_json(path)
    if not isinstance(data, list) or not data:
        raise SplitFileError(path, None, "expected a list of [takeoff, somersault, twist, flight] entries")
    return [" ".join(map(str, entry)) if isinstance(entry, list) else str(entry) for entry in data]


def read_annotations(path: Path, num_classes: int) -> list[dict]:
    data = read_json(path)
    if not isinstance(data, list):
        raise SplitFileError(path, None, "expected a list of {vid_name, label, start_frame, end_frame}")
    for number, entry in enumerate(data, start=1):
        if not isinstance(entry, dict) or "vid_name" not in entry or not isinstance(entry.get("label"), int):
            raise SplitFileError(path, None, f"entry {number} has no vid_name or integer label")
        if not 0 <= entry["label"] < num_classes:
            raise SplitFileError(path, None, f"entry {number}: label {entry['label']} not in 0..{num_classes - 1}")
    return data


@register_dataset("diving48", description="Diving48: 48 dive classes told apart by motion, 18,404 clips (V1 or V2)",
                  layout=LAYOUT, source="Diving48 release (www.svcl.ucsd.edu/projects/resound): rgb/, "
                  "Diving48_V2_{train,test}.json, Diving48_vocab.json", options="version (v2|v1)")
def diving48(root: Path, split: None, subset: str, version: str = "v2") -> DatasetIndex:
    if version.lower() not in ("v1", "v2"):
        raise VbenchError(f"Diving48 version is v1 or v2, not '{version}'")
    tag = "_V2" if version.lower() == "v2" else ""
    vocab = root / "Diving48_vocab.json"
    classes = read_vocab(vocab) if vocab.exists() else [f"dive {i:02d}" for i in range(48)]
    stem = f"Diving48{tag}_{'train' if subset == 'train' else 'test'}.json"
    entries = read_annotations(first_existing([root / stem, root / "annotations" / stem], LAYOUT, stem), len(classes))
    videos = require(root / "rgb", LAYOUT, "folder")
    records = [VideoRecord(id=str(e["vid_name"]), label=e["label"], path=str(videos / f"{e['vid_name']}.mp4"),
                           meta={k: e[k] for k in ("start_frame", "end_frame") if k in e}) for e in entries]
    present, missing = split_present(records)
    notes = [f"Diving48 {version.upper()}"] + ([] if vocab.exists() else ["no Diving48_vocab.json: classes unnamed"])
    return DatasetIndex("diving48", str(root), None, subset, classes, present, missing, notes=notes)
