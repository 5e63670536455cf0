"""Something-Something V1 (Goyal et al., 2017): 108,499 videos as JPEG frames, 174 classes.

Official files: ``20bn-something-something-v1/<id>/00001.jpg...`` and
``something-something-v1-{labels,train,validation}.csv`` (see ``_twentybn``: class order
is an option). "test" is the validation set (11,522 videos), as papers report. Flip
pairs are the same templates as V2's; TSM trains without flips (the default).
"""

from __future__ import annotations

from pathlib import Path

from vbench.data.datasets._twentybn import OPTIONS, index_twentybn
from vbench.data.datasets.sthv2 import FLIP_PAIRS
from vbench.data.records import DatasetIndex
from vbench.data.registry import register_dataset

LAYOUT = ("ROOT/20bn-something-something-v1/<id>/00001.jpg... and "
          "ROOT/something-something-v1-{labels,train,validation}.csv")


@register_dataset("sthv1", description="Something-Something V1: 174 object interactions, 108,499 JPEG frame folders",
                  layout=LAYOUT, source="20BN release: 20bn-something-something-v1 frames and its three CSV files",
                  options=OPTIONS)
def sthv1(root: Path, split: None, subset: str, class_order: str = "sorted", classes_file: str | None = None,
          frames: str | None = None) -> DatasetIndex:
    return index_twentybn("sthv1", root, subset, prefix="something-something-v1",
                          frames_dir="20bn-something-something-v1", layout=LAYOUT, class_order=class_order,
                          classes_file=classes_file, frames=frames, flip_pairs=FLIP_PAIRS)
