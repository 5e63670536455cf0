"""What a re-id dataset holds on disk: the counts ``vbench data check`` prints.

``check_dataset(name, root, subset, protocol)`` counts, for ``train``, ``query`` or
``gallery`` (the gallery as the protocol builds it): tracklets (also as ``videos``),
identities, cameras, frames listed, frames missing on disk (counted, never fatal), empty
tracklets, and the queries that have a cross-camera match under the protocol
(``valid_queries``). For the two-camera datasets the counts are those of one trial.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vbench.errors import VbenchError
from vbench.reid.datasets import load_dataset
from vbench.reid.features import FrameChecker
from vbench.reid.protocols import gallery_view, valid_query_mask
from vbench.reid.tracklets import ReidDataset

SUBSETS = ("train", "query", "gallery")


def subset_tracklets(dataset: ReidDataset, subset: str, protocol: str = "official"):
    """The tracklets of a subset (gallery: as ``protocol`` builds it) and the protocol's view."""
    if subset not in SUBSETS:
        raise VbenchError(f"unknown subset '{subset}': choose from {', '.join(SUBSETS)}")
    view = gallery_view(protocol, dataset.test_pids, dataset.query, dataset.gallery, dataset.protocols)
    if subset == "train":
        return list(dataset.train), view
    rows = view.query if subset == "query" else view.gallery
    return [dataset.test[i] for i in rows], view


def check_dataset(name: str, root: str | Path, subset: str = "query", protocol: str = "official",
                  trial: int = 0, **options) -> dict:
    """Counts of one subset of a dataset under a protocol (see module docstring)."""
    dataset = load_dataset(name, root, trial, **options)
    tracklets, view = subset_tracklets(dataset, subset, protocol)
    checker = FrameChecker()
    frames = sum(len(t.frames) for t in tracklets)
    present = sum(len(checker.present(t)) for t in tracklets)
    valid = valid_query_mask(view, dataset.test_pids, dataset.test_camids)
    return {
        "dataset": name, "subset": subset, "protocol": protocol, "trial": trial, "num_trials": dataset.num_trials,
        "tracklets": len(tracklets), "videos": len(tracklets),
        "identities": len({t.pid for t in tracklets}), "cameras": len({t.camid for t in tracklets}),
        "frames": frames, "missing": frames - present, "empty_tracklets": sum(1 for t in tracklets if not t.frames),
        "queries": len(view.query), "valid_queries": int(np.sum(valid)),
    }
