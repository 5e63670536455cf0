"""Ranking metrics of re-id: CMC and mean average precision, per query, vectorised.

For each query the gallery is sorted by distance (ascending, stable: ties keep gallery
order, as MATLAB's ``sort``); junk entries (identity in ``junk_ids``, or the query's
identity on the query's camera) are removed from the ranking; "good" entries share the
query's identity on another camera. A query without a good entry is skipped and counted.

- AP (non-interpolated): the mean over the good entries of the precision at each one's
  rank; mAP the mean over valid queries.
- Interpolated AP (the MARS / Market-1501 MATLAB ``compute_AP.m``): the sum over good
  entries of (1 / #good) x (precision at the previous kept rank + precision here) / 2,
  the previous precision being 1 before the first rank.
- CMC rank-k: the fraction of valid queries whose first good entry is within the first
  k kept entries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vbench.reid.tracklets import JUNK_ID

RANKS = (1, 5, 10, 20)


@dataclass
class RankingScores:
    """Per-query results: AP, interpolated AP, rank of the first match (1-based), validity."""

    ap: np.ndarray
    ap_interpolated: np.ndarray
    first_match: np.ndarray
    valid: np.ndarray

    @property
    def valid_queries(self) -> int:
        return int(self.valid.sum())

    @property
    def skipped_queries(self) -> int:
        return int((~self.valid).sum())

    def mean_ap(self, interpolated: bool = False) -> float:
        values = (self.ap_interpolated if interpolated else self.ap)[self.valid]
        return float(values.mean()) if values.size else float("nan")

    def cmc(self, ranks: tuple[int, ...] = RANKS) -> dict[int, float]:
        first = self.first_match[self.valid]
        return {k: (float((first <= k).mean()) if first.size else float("nan")) for k in ranks}


def rank_queries(distmat: np.ndarray, q_pids: np.ndarray, q_camids: np.ndarray, g_pids: np.ndarray,
                 g_camids: np.ndarray, junk_ids: tuple[int, ...] = (JUNK_ID,), chunk: int = 256) -> RankingScores:
    """Score a (queries x gallery) distance matrix; see module docstring."""
    distmat = np.asarray(distmat)
    q_pids, q_camids = np.asarray(q_pids), np.asarray(q_camids)
    g_pids, g_camids = np.asarray(g_pids), np.asarray(g_camids)
    num_q = distmat.shape[0]
    ap, ap_interp = np.zeros(num_q), np.zeros(num_q)
    first = np.full(num_q, np.iinfo(np.int64).max, dtype=np.int64)
    valid = np.zeros(num_q, dtype=bool)
    junk_gallery = np.isin(g_pids, junk_ids)
    for start in range(0, num_q, chunk):
        rows = slice(start, start + chunk)
        order = np.argsort(distmat[rows], axis=1, kind="stable")
        pid, cam = g_pids[order], g_camids[order]
        same = pid == q_pids[rows, None]
        junk = junk_gallery[order] | (same & (cam == q_camids[rows, None]))
        good = same & ~junk
        kept_rank = np.cumsum(~junk, axis=1)  # rank among kept entries (meaningful where kept)
        hits = np.cumsum(good, axis=1)
        num_good = good.sum(axis=1)
        ok = num_good > 0
        safe_good = np.maximum(num_good, 1)
        precision = np.where(good, hits / np.maximum(kept_rank, 1), 0.0)
        previous = np.where(kept_rank > 1, (hits - 1) / np.maximum(kept_rank - 1, 1), 1.0)
        ap[rows] = precision.sum(axis=1) / safe_good
        ap_interp[rows] = np.where(good, (previous + precision) / 2, 0.0).sum(axis=1) / safe_good
        first_good = np.argmax(good, axis=1)
        first[rows] = np.where(ok, kept_rank[np.arange(len(order)), first_good], first[rows])
        valid[rows] = ok
    return RankingScores(ap, ap_interp, first, valid)


def distance_matrix(query: np.ndarray, gallery: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """Pairwise distances (float64): ``euclidean`` (L2) or ``cosine`` (1 - cosine similarity)."""
    import torch

    from vbench.errors import VbenchError

    q = torch.as_tensor(np.asarray(query), dtype=torch.float64)
    g = torch.as_tensor(np.asarray(gallery), dtype=torch.float64)
    if metric == "euclidean":
        return torch.cdist(q, g).numpy()
    if metric == "cosine":
        q = torch.nn.functional.normalize(q, dim=1)
        g = torch.nn.functional.normalize(g, dim=1)
        return (1.0 - q @ g.T).numpy()
    raise VbenchError(f"unknown distance '{metric}': choose euclidean or cosine")


DISTANCES = ("euclidean", "cosine")
