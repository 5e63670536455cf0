"""CMC / mAP on hand-made distance matrices, worked out by hand; protocols; re-scoring."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vbench.errors import VbenchError
from vbench.reid import FeatureStore, gallery_view, rank_queries, rescore, score
from vbench.reid.protocols import valid_query_mask

# gallery: pid, cam               role for query 0 (pid 1, cam 1)
G_PIDS = np.array([1, 0, 1, -1, 2, 1])   # same-cam junk, distractor, good, junk id, other, good
G_CAMS = np.array([1, 2, 2, 3, 2, 3])


def _hand_scores():
    dist = np.array([
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],  # pid 1: kept ranking neg, GOOD, neg, GOOD
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],  # pid 3: no match anywhere -> skipped
        [0.9, 0.8, 0.7, 0.6, 0.05, 0.4],  # pid 2 cam 1: its only match (g4) first
    ])
    return rank_queries(dist, np.array([1, 3, 2]), np.array([1, 1, 1]), G_PIDS, G_CAMS)


def test_ap_by_hand_with_same_camera_junk_distractors_and_junk_ids():
    s = _hand_scores()
    # query 0: good entries at kept ranks 2 and 4 -> AP = (1/2 + 2/4) / 2
    assert s.ap[0] == pytest.approx(0.5)
    # MATLAB compute_AP: 1/2 * (0 + 1/2)/2 + 1/2 * (1/3 + 1/2)/2 = 1/8 + 5/24 = 1/3
    assert s.ap_interpolated[0] == pytest.approx(1 / 3)
    assert s.first_match[0] == 2
    assert s.ap[2] == pytest.approx(1.0) and s.ap_interpolated[2] == pytest.approx(1.0)


def test_queries_without_match_are_skipped_and_counted():
    s = _hand_scores()
    assert s.valid.tolist() == [True, False, True]
    assert s.valid_queries == 2 and s.skipped_queries == 1
    assert s.mean_ap() == pytest.approx(0.75)
    assert s.mean_ap(interpolated=True) == pytest.approx((1 / 3 + 1) / 2)
    assert s.cmc() == {1: 0.5, 5: 1.0, 10: 1.0, 20: 1.0}


def test_ties_keep_gallery_order_like_matlab_sort():
    dist = np.zeros((1, 3))
    s = rank_queries(dist, np.array([1]), np.array([1]), np.array([2, 1, 1]), np.array([2, 2, 2]))
    assert s.first_match[0] == 2 and s.ap[0] == pytest.approx((1 / 2 + 2 / 3) / 2)


# test rows: pid, cam. Queries are rows 0, 2 and 6; row 6's only cross-camera match is row 2, a query.
PIDS = np.array([1, 1, 2, -1, 0, 1, 2])
CAMS = np.array([1, 2, 2, 1, 3, 1, 1])
QUERY = np.array([0, 2, 6])


def test_protocols_build_the_gallery_as_documented():
    own = np.arange(len(PIDS))
    official = gallery_view("official", PIDS, QUERY, own)
    removed = gallery_view("query-removed", PIDS, QUERY, own)
    included = gallery_view("query-included", PIDS, QUERY, own)
    assert official.gallery.tolist() == list(range(7)) and official.interpolated_ap
    assert removed.gallery.tolist() == [1, 4, 5]
    assert included.gallery.tolist() == [0, 2, 6, 1, 4, 5] and not included.interpolated_ap
    # rows 2 and 6 match only each other: lost when the queries leave the gallery
    assert valid_query_mask(official, PIDS, CAMS).tolist() == [True, True, True]
    assert valid_query_mask(removed, PIDS, CAMS).tolist() == [True, False, False]
    assert valid_query_mask(included, PIDS, CAMS).tolist() == [True, True, True]
    with pytest.raises(VbenchError, match="unknown re-id protocol"):
        gallery_view("market", PIDS, QUERY, own)
    with pytest.raises(VbenchError, match="not defined for this dataset"):
        gallery_view("query-removed", PIDS, QUERY, own, supported=("official",))


def _store():
    # 1-D features: the distance is the gap between positions
    positions = np.array([0.0, 0.4, 5.0, 0.1, 0.2, 0.3, 5.3])
    return FeatureStore(positions[:, None].astype(np.float32), [f"t{i}" for i in range(7)], PIDS, CAMS,
                        [{"trial": np.int64(0), "query": QUERY, "gallery": np.arange(7)}],
                        {"dataset": "toy", "protocols": ["official", "query-removed", "query-included"],
                         "sampling": "dense", "seq_len": 8})


def test_score_under_each_protocol_by_hand():
    store = _store()
    # official, query 0 (pos 0.0): gallery by distance 0(junk) 3(junk id) 4(distractor) 5(same cam junk) 1(GOOD)...
    # kept ranking: 4, 1, ... -> AP 1/2, first match at 2; query 2 (pos 5.0): 6 good at rank 1; query 6: 2 good at 1
    official = score(store, "official")
    assert official.map == pytest.approx(100 * (0.5 + 1 + 1) / 3)
    assert official.map_interpolated == pytest.approx(100 * (0.25 + 1 + 1) / 3)
    assert official.cmc[1] == pytest.approx(200 / 3) and official.cmc[5] == pytest.approx(100)
    assert (official.valid_queries, official.gallery_size) == (3, 7)
    removed = score(store, "query-removed")
    assert removed.map == pytest.approx(50) and removed.cmc[1] == 0 and removed.map_interpolated is None
    assert (removed.valid_queries, removed.skipped_queries, removed.gallery_size) == (1, 2, 3)
    included = score(store, "query-included")
    assert included.map == pytest.approx(official.map) and included.gallery_size == 6
    record = official.to_record()
    assert record["protocol"] == "official" and record["rank1"] == official.cmc[1] and record["sampling"] == "dense"


def test_rescore_reads_the_saved_features_under_another_protocol_and_distance(tmp_path):
    store = _store()
    path = store.save(tmp_path / "features.npz")
    assert rescore(path, "query-removed").map == pytest.approx(score(store, "query-removed").map)
    cosine = rescore(path, "official", "cosine")  # 1-D positive features: every cosine distance is 0
    assert cosine.distance == "cosine" and cosine.valid_queries == 3
    with pytest.raises(VbenchError, match="unknown distance"):
        rescore(path, "official", "manhattan")
    with pytest.raises(VbenchError, match="not found"):
        rescore(tmp_path / "nope.npz")


def _matlab_compute_ap(good, junk, index):
    """A line-by-line reading of MARS-evaluation's utils/compute_AP.m (1-based ranks)."""
    cmc = np.zeros(len(index))
    ngood = len(good)
    old_recall, old_precision, ap, intersect, j, good_now, njunk = 0.0, 1.0, 0.0, 0, 0, 0, 0
    for n, item in enumerate(index, start=1):
        flag = item in good
        if flag:
            cmc[n - njunk - 1:] = 1
            good_now += 1
        if item in junk:
            njunk += 1
            continue
        if flag:
            intersect += 1
        recall = intersect / ngood
        precision = intersect / (j + 1)
        ap += (recall - old_recall) * ((old_precision + precision) / 2)
        old_recall, old_precision = recall, precision
        j += 1
        if good_now == ngood:
            break
    return ap, cmc


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5), st.integers(2, 12), st.integers(0, 10_000))
def test_vectorised_scores_match_the_matlab_loop_and_the_plain_definition(num_q, num_g, seed):
    rng = np.random.default_rng(seed)
    dist = rng.integers(0, 4, size=(num_q, num_g)).astype(float)  # many ties
    q_pids, q_cams = rng.integers(1, 3, num_q), rng.integers(1, 3, num_q)
    g_pids, g_cams = rng.integers(-1, 3, num_g), rng.integers(1, 3, num_g)
    scores = rank_queries(dist, q_pids, q_cams, g_pids, g_cams)
    for q in range(num_q):
        index = np.argsort(dist[q], kind="stable")
        good = {i for i in range(num_g) if g_pids[i] == q_pids[q] and g_cams[i] != q_cams[q] and g_pids[i] != -1}
        junk = {i for i in range(num_g) if g_pids[i] == -1 or (g_pids[i] == q_pids[q] and g_cams[i] == q_cams[q])}
        assert scores.valid[q] == bool(good)
        if not good:
            continue
        ap_interp, cmc = _matlab_compute_ap(good, junk, index)
        assert scores.ap_interpolated[q] == pytest.approx(ap_interp)
        assert scores.first_match[q] == int(np.argmax(cmc)) + 1
        kept = [i for i in index if i not in junk]
        hits = [k + 1 for k, i in enumerate(kept) if i in good]
        assert scores.ap[q] == pytest.approx(np.mean([(n + 1) / rank for n, rank in enumerate(hits)]))
