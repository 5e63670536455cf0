"""Video person re-identification: datasets as distributed, gallery protocols, CMC / mAP.

The library part of ``vbench eval --dataset mars|ilidsvid|prid2011``:

- ``load_dataset(name, root, trial)`` / ``load_trials``: tracklets, query and gallery rows
  (readers in ``mars.py`` and ``ilidsvid.py``; ``READERS`` maps names to them);
- ``check_dataset(name, root, subset, protocol)``: counts for ``vbench data check``;
- ``extract_store(model, name, root, sampling=, seq_len=)``: per-tracklet features,
  ``FeatureStore.save(path)`` / ``FeatureStore.load(path)``;
- ``score(store, protocol, distance)``, ``rescore(path, protocol, distance)``,
  ``evaluate(model, name, root, protocol=, distance=, features_path=, ...)`` ->
  ``ReidResult`` (mAP, CMC rank-1/5/10/20, protocol, distance, sampling, valid queries,
  gallery size; the mean over trials for iLIDS-VID / PRID-2011);
- ``PROTOCOLS`` (official, query-removed, query-included: see ``protocols.py``),
  ``DISTANCES``, ``SAMPLINGS``.
"""

from vbench.reid.check import SUBSETS, check_dataset
from vbench.reid.datasets import READERS, load_dataset, load_trials
from vbench.reid.evaluate import ReidResult, evaluate, extract_store, format_result, rescore, score
from vbench.reid.features import FeatureStore, extract_features, load_frames
from vbench.reid.metrics import DISTANCES, RANKS, distance_matrix, rank_queries
from vbench.reid.protocols import PROTOCOLS, gallery_view
from vbench.reid.sampling import SAMPLINGS, clip_indices
from vbench.reid.tracklets import ReidDataset, Tracklet

__all__ = ["DISTANCES", "PROTOCOLS", "RANKS", "READERS", "SAMPLINGS", "SUBSETS", "FeatureStore", "ReidDataset",
           "ReidResult", "Tracklet", "check_dataset", "clip_indices", "distance_matrix", "evaluate",
           "extract_features", "extract_store", "format_result", "gallery_view", "load_dataset", "load_frames",
           "load_trials", "rank_queries", "rescore", "score"]
