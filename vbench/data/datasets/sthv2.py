"""Something-Something V2 (Goyal et al., 2017): 220,847 ``.webm`` videos, 174 classes.

Official files: ``labels.json`` = ``{"<template without brackets>": "<index>"}``;
``train.json`` / ``validation.json`` = lists of ``{id, label, template, placeholders}``
where ``label`` is the filled-in caption, not the class: the class is
``labels[template.replace("[", "").replace("]", "")]`` (as TSM's
``tools/gen_label_sthv2.py`` reads it). ``test.json`` has ids only, so "test" here is
the validation set (24,777 videos), as every paper reports. Videos: ``<id>.webm``.

A horizontal flip turns three classes into their mirror classes (pulling/pushing left
to right and right to left, turning the camera left/right; mmaction2's
``sthv2_flip_label_map`` {86: 87, 93: 94, 166: 167}); TSM trains without flipping, which
is the default here; ``flip="swap"`` mirrors and swaps those labels.
"""

from __future__ import annotations

from pathlib import Path

from vbench.data.records import DatasetIndex, SplitFileError, VideoRecord, first_existing, read_json, \
    split_present
from vbench.data.registry import register_dataset

LAYOUT = ("ROOT/20bn-something-something-v2/<id>.webm and ROOT/labels/{labels,train,validation}.json "
          "(or the same json files in ROOT)")
FLIP_PAIRS = (
    ("Pulling something from left to right", "Pulling something from right to left"),
    ("Pushing something from left to right", "Pushing something from right to left"),
    ("Turning the camera left while filming something", "Turning the camera right while filming something"),
)


def read_labels(path: Path) -> list[str]:
    """labels.json -> class names in index order (indices must be 0..N-1, each once)."""
    data = read_json(path)
    if not isinstance(data, dict) or not data:
        raise SplitFileError(path, None, 'expected an object {"<template>": "<index>", ...}')
    by_index: dict[int, str] = {}
    for name, value in data.items():
        try:
            index = int(value)
        except (TypeError, ValueError):
            raise SplitFileError(path, None, f"class '{name[:60]}' has index {value!r}, not an integer") from None
        if index in by_index:
            raise SplitFileError(path, None, f"index {index} given to two classes")
        by_index[index] = name
    if sorted(by_index) != list(range(len(by_index))):
        raise SplitFileError(path, None, f"indices are not 0..{len(by_index) - 1}")
    return [by_index[i] for i in range(len(by_index))]


def read_annotations(path: Path, classes: list[str]) -> list[tuple[str, int]]:
    """(id, class index) of each entry of train.json / validation.json."""
    position = {name: i for i, name in enumerate(classes)}
    data = read_json(path)
    if not isinstance(data, list):
        raise SplitFileError(path, None, "expected a list of {id, label, template, placeholders}")
    rows = []
    for number, entry in enumerate(data, start=1):
        if not isinstance(entry, dict) or "id" not in entry or not isinstance(entry.get("template"), str):
            raise SplitFileError(path, None, f"entry {number} has no id or template")
        name = entry["template"].replace("[", "").replace("]", "")
        if name not in position:
            raise SplitFileError(path, None, f"entry {number} (id {entry['id']}): template '{name[:60]}' "
                                             "is not in labels.json")
        rows.append((str(entry["id"]), position[name]))
    return rows


def find_file(root: Path, names: list[str]) -> Path:
    candidates = [folder / name for folder in (root / "labels", root, root / "annotations") for name in names]
    return first_existing(candidates, LAYOUT, names[0])


@register_dataset("sthv2", description="Something-Something V2: 174 object interactions, 220,847 webm videos",
                  layout=LAYOUT, source="20BN / Qualcomm release: labels.json, train.json, validation.json, "
                  "20bn-something-something-v2/*.webm", options="videos (folder of the .webm files)")
def sthv2(root: Path, split: None, subset: str, videos: str | None = None) -> DatasetIndex:
    classes = read_labels(find_file(root, ["labels.json", "something-something-v2-labels.json"]))
    stem = "train" if subset == "train" else "validation"
    rows = read_annotations(find_file(root, [f"{stem}.json", f"something-something-v2-{stem}.json"]), classes)
    if videos:
        folder = root / videos
    else:
        folders = [root / "20bn-something-something-v2", root / "videos", root]
        folder = next((f for f in folders if rows and (f / f"{rows[0][0]}.webm").exists()),
                      next((f for f in folders if f.is_dir()), root))
    records = [VideoRecord(id=vid, label=label, path=str(folder / f"{vid}.webm")) for vid, label in rows]
    present, missing = split_present(records)
    return DatasetIndex("sthv2", str(root), None, subset, classes, present, missing, flip_pairs=FLIP_PAIRS,
                        default_flip="none")
