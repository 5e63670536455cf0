"""Gallery conventions: which tracklets a query is ranked against, and which are junk.

Re-id figures on MARS are not comparable across code bases because they build the
gallery differently. vbench names the convention and records it with every result:

==============  =============================================================================
official        The dataset's own MATLAB evaluation (liangzheng06/MARS-evaluation,
                ``test_mars.m`` + ``utils/evaluation_mars.m``): the gallery is every test
                tracklet, the queries included (12180 on MARS). Junk, removed from a
                query's ranking: identity -1 tracklets and the tracklets of the query's
                identity on the query's camera (the query itself among them).
                Distractors (identity 0) stay. Every query has a cross-camera match
                (1980 valid). Reports both the non-interpolated AP and the
                trapezoid-interpolated AP of the MATLAB ``compute_AP.m``.
query-removed   The most used PyTorch code bases (jiyanggao/Video-Person-ReID, Gao &
                Nevatia 2018, and its descendants, e.g. deep-person-reid's ``Mars``): the
                query rows leave the gallery and identity -1 rows are dropped (9330
                tracklets on MARS); same-identity same-camera tracklets are junk; queries
                left without a cross-camera match are skipped and counted (140 on MARS,
                1840 valid).
query-included  The same gallery with the query features put back (11310 on MARS), as the
                AP3D / TCLNet / BiCnet-TKS code bases (Gu et al., 2020-2021) and many
                transformer code bases after them do ("gallery set must contain query
                set, otherwise 140 query imgs will not have ground truth"): 1980 valid.
==============  =============================================================================

Counts above were computed from the official ``info/*.mat`` files. On the two-camera
datasets (iLIDS-VID, PRID-2011) the query and gallery cameras are disjoint and only
``official`` (query = first camera, gallery = second) is defined.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vbench.errors import VbenchError
from vbench.reid.tracklets import JUNK_ID

PROTOCOLS = ("official", "query-removed", "query-included")


@dataclass(frozen=True)
class GalleryView:
    """Rows of the test tracklets that a protocol ranks: queries, gallery (may repeat query rows)."""

    protocol: str
    query: np.ndarray
    gallery: np.ndarray
    junk_ids: tuple[int, ...] = (JUNK_ID,)
    interpolated_ap: bool = False


def gallery_view(protocol: str, pids: np.ndarray, query: np.ndarray, gallery: np.ndarray,
                 supported: tuple[str, ...] = PROTOCOLS) -> GalleryView:
    """Apply a protocol to a dataset's query rows and own gallery rows (indices into ``pids``)."""
    if protocol not in PROTOCOLS:
        raise VbenchError(f"unknown re-id protocol '{protocol}': choose from {', '.join(PROTOCOLS)}")
    if protocol not in supported:
        raise VbenchError(f"protocol '{protocol}' is not defined for this dataset; it takes: {', '.join(supported)}")
    query = np.asarray(query, dtype=np.int64)
    gallery = np.asarray(gallery, dtype=np.int64)
    if protocol == "official":
        return GalleryView(protocol, query, gallery, interpolated_ap=True)
    rest = gallery[~np.isin(gallery, query) & (pids[gallery] != JUNK_ID)]
    if protocol == "query-removed":
        return GalleryView(protocol, query, rest)
    return GalleryView(protocol, query, np.concatenate([query, rest]))


def valid_query_mask(view: GalleryView, pids: np.ndarray, camids: np.ndarray) -> np.ndarray:
    """Queries with at least one cross-camera tracklet of their identity in the view's gallery."""
    gp, gc = pids[view.gallery], camids[view.gallery]
    qp, qc = pids[view.query], camids[view.query]
    valid = np.zeros(len(qp), dtype=bool)
    for start in range(0, len(qp), 512):
        stop = start + 512
        same = gp[None, :] == qp[start:stop, None]
        good = same & (gc[None, :] != qc[start:stop, None]) & ~np.isin(gp, view.junk_ids)[None, :]
        valid[start:stop] = good.any(axis=1)
    return valid
