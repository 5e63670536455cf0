"""Scoring per-tracklet features under a protocol and a distance; the whole evaluation.

``score(store, protocol, distance)`` ranks every trial of a ``FeatureStore`` and averages
the trials (iLIDS-VID / PRID-2011: 10; MARS: 1). ``rescore(path, ...)`` does the same
from a saved feature file. ``evaluate(model, dataset, root, ...)`` reads the dataset,
extracts the features (saving them when ``features_path`` is given) and scores them.
Figures are percentages.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from vbench.errors import VbenchError
from vbench.reid.datasets import load_trials
from vbench.reid.features import FeatureStore, extract_features
from vbench.reid.metrics import DISTANCES, RANKS, distance_matrix, rank_queries
from vbench.reid.protocols import gallery_view


@dataclass
class ReidResult:
    """One re-id evaluation: figures (in %) and the protocol that produced them."""

    dataset: str
    protocol: str
    distance: str
    sampling: str
    seq_len: int
    map: float
    cmc: dict[int, float]
    valid_queries: int
    skipped_queries: int
    num_queries: int
    gallery_size: int
    map_interpolated: float | None = None
    trials: list[int] = field(default_factory=list)
    per_trial: list[dict] = field(default_factory=list)

    @property
    def rank1(self) -> float:
        return self.cmc[1]

    def to_record(self) -> dict:
        """A flat JSON-able dict: ``rank1``.. columns beside the protocol fields."""
        record = {k: v for k, v in asdict(self).items() if k not in ("cmc", "per_trial")}
        record.update({f"rank{k}": v for k, v in self.cmc.items()})
        record["per_trial"] = self.per_trial
        return record


def _score_trial(store: FeatureStore, trial: dict, protocol: str, distance: str, ranks: tuple[int, ...]) -> dict:
    view = gallery_view(protocol, store.pids, trial["query"], trial["gallery"],
                        tuple(store.meta.get("protocols", ("official",))))
    distmat = distance_matrix(store.features[view.query], store.features[view.gallery], distance)
    scores = rank_queries(distmat, store.pids[view.query], store.camids[view.query],
                          store.pids[view.gallery], store.camids[view.gallery], view.junk_ids)
    return {
        "trial": int(trial.get("trial", 0)),
        "map": 100 * scores.mean_ap(),
        "map_interpolated": 100 * scores.mean_ap(interpolated=True) if view.interpolated_ap else None,
        "cmc": {k: 100 * v for k, v in scores.cmc(ranks).items()},
        "valid_queries": scores.valid_queries, "skipped_queries": scores.skipped_queries,
        "num_queries": len(view.query), "gallery_size": len(view.gallery),
    }


def score(store: FeatureStore, protocol: str = "official", distance: str = "euclidean",
          trial: int | None = None, ranks: tuple[int, ...] = RANKS) -> ReidResult:
    """Rank the stored features of every trial (or the one asked for) and average the trials."""
    if distance not in DISTANCES:
        raise VbenchError(f"unknown distance '{distance}': choose from {', '.join(DISTANCES)}")
    if store.features.ndim != 2 or store.features.shape[0] != len(store.keys) or store.features.shape[1] == 0:
        raise VbenchError("the feature store holds no features")
    trials = store.trials
    if trial is not None:
        trials = [t for t in trials if int(t.get("trial", 0)) == trial]
        if not trials:
            raise VbenchError(f"trial {trial} is not in this feature file "
                              f"(it has {', '.join(str(int(t['trial'])) for t in store.trials)})")
    per_trial = [_score_trial(store, t, protocol, distance, ranks) for t in trials]

    def mean(key):
        values = [t[key] for t in per_trial]
        return None if values[0] is None else float(np.mean(values))

    return ReidResult(
        dataset=store.meta.get("dataset", ""), protocol=protocol, distance=distance,
        sampling=store.meta.get("sampling", ""), seq_len=int(store.meta.get("seq_len", 0)),
        map=mean("map"), map_interpolated=mean("map_interpolated"),
        cmc={k: float(np.mean([t["cmc"][k] for t in per_trial])) for k in ranks},
        valid_queries=sum(t["valid_queries"] for t in per_trial),
        skipped_queries=sum(t["skipped_queries"] for t in per_trial),
        num_queries=sum(t["num_queries"] for t in per_trial),
        gallery_size=int(round(np.mean([t["gallery_size"] for t in per_trial]))),
        trials=[t["trial"] for t in per_trial], per_trial=per_trial if len(per_trial) > 1 else [])


def rescore(path: str | Path, protocol: str = "official", distance: str = "euclidean",
            trial: int | None = None) -> ReidResult:
    """Score a saved feature file again, under another protocol or distance."""
    return score(FeatureStore.load(path), protocol, distance, trial)


def extract_store(model: torch.nn.Module, dataset: str, root: str | Path, *, trial: int | None = None,
                  sampling: str = "dense", seq_len: int | None = None, size: tuple[int, int] | None = None,
                  batch_size: int = 8, device: str | torch.device = "cpu", num_workers: int = 0,
                  dataset_options: dict | None = None, progress: Callable[[int, int], None] | None = None,
                  **meta) -> FeatureStore:
    """Features of every test tracklet of the dataset's trials (one trial, or all when None)."""
    spec = getattr(model, "vbench_spec", None)
    seq_len = seq_len or (spec.num_frames if spec else 8)
    size = size or getattr(model, "img_size", None) or (spec.info.size if spec else (256, 128))
    datasets = load_trials(dataset, root, trial, **(dataset_options or {}))
    store, tracklets = FeatureStore.for_trials(datasets)
    store.features = extract_features(model, tracklets, sampling=sampling, seq_len=seq_len, size=tuple(size),
                                      batch_size=batch_size, device=device, num_workers=num_workers,
                                      progress=progress)
    store.meta.update({"sampling": sampling, "seq_len": seq_len, "size": list(size),
                       "model": spec.name if spec else type(model).__name__, **meta})
    return store


def evaluate(model: torch.nn.Module, dataset: str, root: str | Path, *, protocol: str = "official",
             distance: str = "euclidean", features_path: str | Path | None = None, **options) -> ReidResult:
    """Extract features (``extract_store`` options), save them if asked, and score them."""
    if distance not in DISTANCES:
        raise VbenchError(f"unknown distance '{distance}': choose from {', '.join(DISTANCES)}")
    store = extract_store(model, dataset, root, **options)
    gallery_view(protocol, store.pids, store.trials[0]["query"], store.trials[0]["gallery"],
                 tuple(store.meta["protocols"]))  # an unsupported protocol fails before anything is lost
    if features_path is not None:
        store.save(features_path)
    return score(store, protocol, distance)


def format_result(result: ReidResult) -> str:
    """One line for logs: mAP, CMC and the protocol fields."""
    interp = "" if result.map_interpolated is None else f" (interpolated {result.map_interpolated:.1f})"
    cmc = " ".join(f"R{k} {v:.1f}" for k, v in result.cmc.items() if not math.isnan(v))
    return (f"{result.dataset} {result.protocol} {result.distance}: mAP {result.map:.1f}{interp} {cmc}; "
            f"{result.valid_queries}/{result.num_queries} queries, gallery {result.gallery_size}, "
            f"{result.sampling} x{result.seq_len}")
