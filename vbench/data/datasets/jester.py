"""Jester (Materzynska et al., 2019): 148,092 hand-gesture videos as JPEG frames, 27 classes.

Official files: ``20bn-jester-v1/<id>/00001.jpg...`` and
``jester-v1-{labels,train,validation}.csv`` (the 20BN format, see ``_twentybn``). Mirror
images swap left and right gestures and the turning direction, so flips are off by
default (TSM) and ``flip="swap"`` swaps those labels.
"""

from __future__ import annotations

from pathlib import Path

from vbench.data.datasets._twentybn import OPTIONS, index_twentybn
from vbench.data.records import DatasetIndex
from vbench.data.registry import register_dataset

LAYOUT = "ROOT/20bn-jester-v1/<id>/00001.jpg... and ROOT/jester-v1-{labels,train,validation}.csv"
FLIP_PAIRS = (
    ("Swiping Left", "Swiping Right"),
    ("Sliding Two Fingers Left", "Sliding Two Fingers Right"),
    ("Turning Hand Clockwise", "Turning Hand Counterclockwise"),
)


@register_dataset("jester", description="20BN Jester: 27 hand gestures, 148,092 JPEG frame folders",
                  layout=LAYOUT, source="20BN release: 20bn-jester-v1 frames and its three CSV files",
                  options=OPTIONS)
def jester(root: Path, split: None, subset: str, class_order: str = "sorted", classes_file: str | None = None,
           frames: str | None = None) -> DatasetIndex:
    return index_twentybn("jester", root, subset, prefix="jester-v1", frames_dir="20bn-jester-v1", layout=LAYOUT,
                          class_order=class_order, classes_file=classes_file, frames=frames, flip_pairs=FLIP_PAIRS)
