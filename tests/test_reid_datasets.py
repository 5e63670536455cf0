"""Dataset parsers on small files in the official structure, and end-to-end scoring."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.io import savemat

import vbench
from vbench.errors import VbenchError
from vbench.reid import check_dataset, evaluate, extract_store, load_dataset, rescore, score
from vbench.reid.mars import read_mat_matrix

SIZE = (32, 16)  # H x W of the test crops


class MeanColour(torch.nn.Module):
    """A 'model' whose feature is the clip's mean colour: identities are told apart by colour."""

    def forward(self, x):
        return x.mean(dim=(2, 3, 4))


def _crop(path, colour, size=SIZE):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size[1], size[0]), tuple(colour)).save(path, quality=95)


RED, GREEN, BLUE, GREY = (200, 30, 30), (30, 200, 30), (30, 30, 200), (120, 120, 120)
# test tracks: pid, camera, colour. Query rows (0-based): 0, 2, 7, 8.
TEST_TRACKS = [
    (3, 1, RED), (3, 2, (210, 30, 30)),          # rows 0-1: query 0 and its match
    (4, 1, GREEN), (4, 2, (30, 210, 30)),        # rows 2-3: query 2 and its match
    (4, 1, (30, 205, 30)),                       # row 4: same identity, same camera: junk for row 2
    (0, 2, GREEN),                               # row 5: a distractor closer to query 2 than its match
    (-1, 1, GREY),                               # row 6: junk identity
    (5, 2, BLUE), (5, 1, (30, 30, 210)),         # rows 7-8: both queries, each the other's only match
]
TRAIN_TRACKS = [(1, 1, RED), (1, 2, RED), (2, 1, BLUE), (2, 3, BLUE)]


def _folder(pid):
    return "00-1" if pid == -1 else f"{pid:04d}"


def write_mars(root, frames=3, scramble=True):
    """A tiny MARS tree: bbox_*, info/*_name.txt (CRLF), tracks_*_info.mat, query_IDX.mat."""
    for subset, tracks, variable in (("train", TRAIN_TRACKS, "track_train_info"),
                                     ("test", TEST_TRACKS, "track_test_info")):
        names, rows = [], []
        for t, (pid, cam, colour) in enumerate(tracks):
            track_names = [f"{_folder(pid)}C{cam}T{t + 1:04d}F{f:03d}.jpg" for f in range(1, frames + 1)]
            for name in track_names:
                _crop(root / f"bbox_{subset}" / _folder(pid) / name, colour)
            if scramble:  # lines out of frame order inside a tracklet: the reader sorts them
                track_names = track_names[::-1]
            rows.append([len(names) + 1, len(names) + frames, pid, cam])
            names += track_names
        (root / "info").mkdir(parents=True, exist_ok=True)
        (root / "info" / f"{subset}_name.txt").write_bytes(("\r\n".join(names) + "\r\n").encode())
        savemat(root / "info" / f"tracks_{subset}_info.mat", {variable: np.array(rows, dtype=np.float64)})
    savemat(root / "info" / "query_IDX.mat", {"query_IDX": np.array([[1, 3, 8, 9]], dtype=np.float64)})
    return root


def test_mat_parsers_read_the_official_variables(tmp_path):
    root = write_mars(tmp_path)
    assert read_mat_matrix(root / "info" / "query_IDX.mat", "query_IDX").ravel().tolist() == [1, 3, 8, 9]
    mars = load_dataset("mars", root)
    assert len(mars.train) == 4 and len(mars.test) == 9 and mars.query.tolist() == [0, 2, 7, 8]
    assert [(t.pid, t.camid) for t in mars.test[:3]] == [(3, 1), (3, 2), (4, 1)]
    frames = mars.test[6].frames  # junk identity's folder is 00-1; frames sorted by number, not by line
    assert [f.rsplit("/", 2)[-2:] for f in frames] == [["00-1", f"00-1C1T0007F00{i}.jpg"] for i in (1, 2, 3)]
    assert mars.gallery.tolist() == list(range(9))


def test_mars_reader_errors_are_one_line(tmp_path):
    with pytest.raises(VbenchError, match="name list not found"):
        load_dataset("mars", tmp_path)
    root = write_mars(tmp_path)
    savemat(root / "info" / "tracks_test_info.mat", {"track_test_info": np.array([[1, 999, 3, 1]], dtype=float)})
    with pytest.raises(VbenchError, match="fall outside"):
        load_dataset("mars", root)
    with pytest.raises(VbenchError, match="unknown re-id dataset"):
        load_dataset("marz", root)


def test_check_counts_subsets_missing_frames_and_valid_queries(tmp_path):
    root = write_mars(tmp_path)
    (root / "bbox_test" / "0003" / "0003C1T0001F002.jpg").unlink()
    query = check_dataset("mars", root, "query", "official")
    assert {k: query[k] for k in ("tracklets", "videos", "identities", "cameras", "frames", "missing")} == \
        {"tracklets": 4, "videos": 4, "identities": 3, "cameras": 2, "frames": 12, "missing": 1}
    assert query["valid_queries"] == 4
    assert check_dataset("mars", root, "gallery", "official")["tracklets"] == 9
    removed = check_dataset("mars", root, "gallery", "query-removed")
    assert removed["tracklets"] == 4 and removed["valid_queries"] == 2 and removed["missing"] == 0
    assert check_dataset("mars", root, "gallery", "query-included")["tracklets"] == 8
    train = check_dataset("mars", root, "train")
    assert (train["tracklets"], train["identities"], train["cameras"], train["frames"]) == (4, 2, 3, 12)


def test_tiny_mars_end_to_end_under_each_protocol(tmp_path):
    root = write_mars(tmp_path)
    (root / "bbox_test" / "0003" / "0003C1T0001F002.jpg").unlink()  # a missing frame is skipped
    path = tmp_path / "features.npz"
    official = evaluate(MeanColour(), "mars", root, protocol="official", features_path=path,
                        seq_len=2, size=SIZE, sampling="dense")
    # queries 0, 7, 8 match at rank 1; query 2 sees the distractor first: AP 1/2 (interpolated 1/4)
    assert official.map == pytest.approx(87.5) and official.cmc[1] == pytest.approx(75)
    assert official.map_interpolated == pytest.approx(100 * (1 + 0.25 + 1 + 1) / 4)
    assert (official.valid_queries, official.gallery_size, official.sampling, official.seq_len) == (4, 9, "dense", 2)
    removed = rescore(path, "query-removed")
    assert (removed.map, removed.cmc[1], removed.valid_queries, removed.skipped_queries, removed.gallery_size) == \
        (pytest.approx(75), pytest.approx(50), 2, 2, 4)
    included = rescore(path, "query-included", "cosine")
    assert included.valid_queries == 4 and included.gallery_size == 8 and included.distance == "cosine"


def test_tiny_mars_features_from_a_small_mstat(tmp_path):
    root = write_mars(tmp_path)
    model = vbench.create_model("mstat_vitb16", num_frames=2, embed_dim=32, num_heads=2, stage_depths=(1, 1, 1),
                                img_size=SIZE, patch_size=8)
    store = extract_store(model, "mars", root, sampling="evenly", batch_size=3)
    assert store.features.shape == (9, 96) and store.meta["seq_len"] == 2 and store.meta["model"] == "mstat_vitb16"
    for protocol in ("official", "query-removed", "query-included"):
        result = score(store, protocol)
        assert result.protocol == protocol and 0 <= result.map <= 100 and result.sampling == "evenly"


def write_ilidsvid(root, splits):
    """Four people, two cameras; person 2's cam2 tracklet looks like person 1 (a rank-1 miss)."""
    colours = {1: RED, 2: GREEN, 3: BLUE, 4: GREY}
    for person, colour in colours.items():
        for cam in (1, 2):
            shown = RED if (person, cam) == (2, 2) else colour
            for frame in (7, 12, 30):
                path = root / "i-LIDS-VID" / "sequences" / f"cam{cam}" / f"person{person:03d}" / \
                    f"cam{cam}_person{person:03d}_{frame:05d}.png"
                _crop(path, shown)
    folder = root / "train-test people splits"
    folder.mkdir(parents=True)
    savemat(folder / "train_test_splits_ilidsvid.mat", {"ls_set": np.array(splits, dtype=np.float64)})
    return root


def test_ilidsvid_reads_trials_and_averages_them(tmp_path):
    root = write_ilidsvid(tmp_path, [[1, 2, 3, 4], [4, 3, 2, 1]])
    first = load_dataset("ilidsvid", root, trial=0)
    assert [t.key for t in first.test] == ["cam1/person001", "cam1/person002", "cam2/person001", "cam2/person002"]
    assert [t.key for t in first.train] == ["cam1/person003", "cam2/person003", "cam1/person004", "cam2/person004"]
    assert first.query.tolist() == [0, 1] and first.gallery.tolist() == [2, 3] and first.num_trials == 2
    assert [f.rsplit("_", 1)[-1] for f in first.test[0].frames] == ["00007.png", "00012.png", "00030.png"]
    result = evaluate(MeanColour(), "ilidsvid", root, seq_len=2, size=SIZE)
    # trial 0 (people 1, 2): person 2's gallery looks like person 1 -> rank-1 1/2, mAP (1 + 1/2)/2;
    # trial 1 (people 3, 4): both right
    assert [t["trial"] for t in result.per_trial] == [0, 1]
    assert result.per_trial[0]["cmc"][1] == pytest.approx(50) and result.per_trial[1]["cmc"][1] == pytest.approx(100)
    assert result.cmc[1] == pytest.approx(75) and result.map == pytest.approx((75 + 100) / 2)
    one = evaluate(MeanColour(), "ilidsvid", root, trial=1, seq_len=2, size=SIZE)
    assert one.trials == [1] and one.cmc[1] == pytest.approx(100) and one.per_trial == []
    with pytest.raises(VbenchError, match="not defined for this dataset"):
        evaluate(MeanColour(), "ilidsvid", root, protocol="query-removed", seq_len=2, size=SIZE)
    with pytest.raises(VbenchError, match="has 2 trials"):
        load_dataset("ilidsvid", root, trial=5)


def test_prid2011_reads_the_splits_json(tmp_path):
    for person, colour in ((1, RED), (2, GREEN), (3, BLUE)):
        for cam in ("a", "b"):
            for frame in (1, 2):
                _crop(tmp_path / "prid_2011" / "multi_shot" / f"cam_{cam}" / f"person_{person:04d}" /
                      f"{frame:04d}.png", colour)
    splits = [{"train": ["person_0003"], "test": ["person_0001", "person_0002"]},
              {"train": ["person_0001"], "test": ["person_0002", "person_0003"]}]
    (tmp_path / "splits_prid2011.json").write_text(json.dumps(splits))
    trial = load_dataset("prid2011", tmp_path, trial=1)
    assert [(t.key, t.pid, t.camid) for t in trial.test] == [
        ("cam_a/person_0002", 2, 1), ("cam_a/person_0003", 3, 1), ("cam_b/person_0002", 2, 2), ("cam_b/person_0003", 3, 2)]
    result = evaluate(MeanColour(), "prid2011", tmp_path, seq_len=2, size=SIZE)
    assert result.trials == [0, 1] and result.cmc[1] == pytest.approx(100) and result.num_queries == 4
    counts = check_dataset("prid2011", tmp_path, "gallery")
    assert (counts["tracklets"], counts["cameras"], counts["frames"], counts["valid_queries"]) == (2, 1, 4, 2)
