"""Each dataset read from a tiny tree in its exact official layout (real videos, JPEG folders)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from videofiles import read_index, write_frames, write_video

from vbench.data import IMAGENET_MEAN, IMAGENET_STD, ViewSpec, build_dataset, collate, index_dataset
from vbench.data.check import check_dataset
from vbench.errors import VbenchError

SIZE = (64, 64)  # square frames: with crop = short side = 64 a view is the whole frame
VIEW = ViewSpec(frames=4, short_side=64, crop_size=64)


def shown_indices(video: torch.Tensor) -> list[list[int]]:
    """The frame index each frame of each view shows: (V, 3, T, H, W) -> V lists."""
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1, 1)
    pixels = ((video * std + mean) * 255).clamp(0, 255).permute(0, 2, 3, 4, 1).numpy()
    return [[read_index(frame) for frame in view] for view in pixels]


def crlf(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())


# ---------------------------------------------------------------- UCF101
@pytest.fixture(scope="module")
def ucf_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ucf")
    classes = ["ApplyEyeMakeup", "HandstandPushups", "YoYo"]
    stems = {"ApplyEyeMakeup": "ApplyEyeMakeup", "HandstandPushups": "HandStandPushups", "YoYo": "YoYo"}
    crlf(root / "ucfTrainTestlist/classInd.txt", [f"{i + 1} {c}" for i, c in enumerate(classes)])
    train, test = [], []
    for i, cls in enumerate(classes):
        for group in (1, 8, 9):
            rel = f"{cls}/v_{stems[cls]}_g{group:02d}_c01.avi"
            if not (cls == "YoYo" and group == 9):  # listed but absent: counted as missing
                write_video(root / "UCF-101" / rel, 20, size=SIZE)
            (test if group <= 7 else train).append(rel)
    for split in (1, 2, 3):
        crlf(root / f"ucfTrainTestlist/trainlist0{split}.txt", [f"{rel} {classes.index(rel.split('/')[0]) + 1}"
                                                                for rel in train])
        crlf(root / f"ucfTrainTestlist/testlist0{split}.txt", test)
    return root


def test_ucf101_classes_labels_counts_and_frames(ucf_root):
    ds = build_dataset("ucf101", ucf_root, split=1, subset="test", views=VIEW)
    assert ds.classes == ["ApplyEyeMakeup", "HandstandPushups", "YoYo"] and ds.num_classes == 3
    assert [r.label for r in ds.records] == [0, 1, 2] and len(ds.missing) == 0
    assert ds.records[1].id == "v_HandStandPushups_g01_c01"  # class from the folder, file name differs
    item = ds[1]
    assert item["label"] == 1 and item["video"].shape == (1, 3, 4, 64, 64)
    assert shown_indices(item["video"]) == [[2, 7, 12, 17]]  # segment centres of 20 frames / 4
    train = build_dataset("ucf101", ucf_root, split=1, subset="train", views=VIEW, train=False)
    assert len(train) == 5 and len(train.missing) == 1 and train.missing[0].id == "v_YoYo_g09_c01"
    assert sorted(r.label for r in train.records) == [0, 0, 1, 1, 2]


def test_ucf101_label_must_agree_with_folder(ucf_root, tmp_path):
    import shutil

    root = tmp_path / "ucf"
    shutil.copytree(ucf_root / "ucfTrainTestlist", root / "ucfTrainTestlist")
    (root / "UCF-101").mkdir()
    crlf(root / "ucfTrainTestlist/trainlist01.txt", ["YoYo/v_YoYo_g08_c01.avi 1"])
    with pytest.raises(VbenchError, match=r"trainlist01.txt, line 1: label 1 disagrees with folder YoYo"):
        index_dataset("ucf101", root, 1, "train")


def test_missing_layout_is_one_line_with_the_expected_layout(tmp_path):
    with pytest.raises(VbenchError) as info:
        build_dataset("ucf101", tmp_path)
    message = str(info.value)
    assert "UCF-101" in message and "classInd.txt" in message and "\n" not in message
    (tmp_path / "UCF-101").mkdir()
    (tmp_path / "ucfTrainTestlist").mkdir()
    with pytest.raises(VbenchError, match="no file .*classInd.txt; expected layout"):
        build_dataset("ucf101", tmp_path)
    with pytest.raises(VbenchError, match="splits 1, 2, 3, not 4"):
        build_dataset("ucf101", tmp_path, split=4)


def test_corrupt_video_is_skipped_counted_and_named(ucf_root, tmp_path):
    import shutil

    root = tmp_path / "ucf"
    shutil.copytree(ucf_root, root)
    (root / "UCF-101/YoYo/v_YoYo_g01_c01.avi").write_bytes(b"not a video" * 50)
    (root / "UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi").write_bytes(b"")
    ds = build_dataset("ucf101", root, split=1, subset="test", views=VIEW)
    items = [ds[i] for i in range(len(ds))]
    assert [i["video"] is None for i in items] == [True, False, True]
    assert items[0]["error"] == "empty file" and items[2]["error"].startswith("cannot open")
    batch = collate(items)
    assert batch["video"].shape == (1, 1, 3, 4, 64, 64) and batch["id"] == ["v_HandStandPushups_g01_c01"]
    assert [s["id"] for s in batch["skipped"]] == ["v_ApplyEyeMakeup_g01_c01", "v_YoYo_g01_c01"]
    report = check_dataset("ucf101", root, 1, "test", decode=True)
    assert (report.videos, report.missing, report.unreadable) == (3, 0, 2)
    assert {p["path"].rsplit("/", 1)[-1] for p in report.problems} == {"v_ApplyEyeMakeup_g01_c01.avi",
                                                                       "v_YoYo_g01_c01.avi"}
    assert check_dataset("ucf101", root, 1, "test").unreadable == 1  # without --decode: the empty file only


def test_a_sampling_or_transform_bug_stops_with_the_video_named_not_skipped(ucf_root, monkeypatch):
    from vbench.data import transforms
    from vbench.data.dataset import VideoFailure

    ds = build_dataset("ucf101", ucf_root, split=1, subset="test", views=VIEW)
    path = ucf_root / "UCF-101/HandstandPushups/v_HandStandPushups_g01_c01.avi"
    monkeypatch.setattr(ds, "clip_indices", lambda index, num_frames, rng=None: [[0, num_frames]])
    with pytest.raises(VideoFailure) as info:
        ds[1]
    assert str(info.value) == (f"video 'v_HandStandPushups_g01_c01' ({path}) failed outside decoding (IndexError: "
                               "frame 20 of a 20-frame video): this is a bug in sampling or transforms, not a "
                               "corrupt file; rerun with --debug for the traceback")
    assert isinstance(info.value.__cause__, IndexError)
    monkeypatch.undo()

    def bad_views(*args, **kwargs):
        raise ValueError("crop 80 > 64")

    monkeypatch.setattr(transforms, "views_for_test", bad_views)
    with pytest.raises(VideoFailure, match=r"^video 'v_YoYo_g01_c01' \(.*\) failed outside decoding \(ValueError: "
                                           r"crop 80 > 64\): this is a bug"):
        ds[2]


def test_a_file_system_error_while_opening_is_an_unreadable_video(ucf_root):
    ds = build_dataset("ucf101", ucf_root, split=1, subset="test", views=VIEW)

    def no_permission(record):
        raise PermissionError(13, "Permission denied", record.path)

    ds.index.open_reader = no_permission
    item = ds[0]
    assert item["video"] is None and item["error"] == "cannot open: Permission denied"


# ---------------------------------------------------------------- HMDB51
def test_hmdb51_prefix_classes_trailing_spaces_and_odd_names(tmp_path):
    names = {"climb": ["Rock_climbing_(1)[x]!_climb_f_cm_np1_ri_med_0.avi", "b~@;#&+_climb_u_cm_np1_fr_bad_1.avi",
                       "c_climb_f_nm_np1_ba_med_2.avi"],
             "climb_stairs": ["a_climb_stairs_f_cm_np1_ri_med_0.avi", "b_climb_stairs_f_cm_np1_le_med_1.avi"],
             "kick": ["a_kick_f_cm_np1_ri_med_0.avi"]}
    codes = [1, 2, 0]
    split_dir = tmp_path / "testTrainMulti_7030_splits"
    split_dir.mkdir()
    for cls, videos in names.items():
        for k in (1, 2, 3):
            lines = [f"{v} {codes[(i + k - 1) % 3]} " for i, v in enumerate(videos)]
            (split_dir / f"{cls}_test_split{k}.txt").write_text("\n".join(lines) + "\n")
        for v in videos:
            write_video(tmp_path / cls / v, 12, size=SIZE)
    test = build_dataset("hmdb51", tmp_path, split=1, subset="test", views=VIEW)
    assert test.classes == ["climb", "climb_stairs", "kick"]
    assert [(r.id, r.label) for r in test.records] == [("b~@;#&+_climb_u_cm_np1_fr_bad_1", 0),
                                                      ("b_climb_stairs_f_cm_np1_le_med_1", 1)]
    assert shown_indices(test[0]["video"]) == [[1, 4, 7, 10]]
    train = build_dataset("hmdb51", tmp_path, split=2, subset="train")
    assert [r.id for r in train.records] == ["c_climb_f_nm_np1_ba_med_2"]  # line 3 of climb is '1' in split 2
    assert len(build_dataset("hmdb51", tmp_path, split=1, subset="train")) == 3


# ---------------------------------------------------------------- Something-Something V2
def test_sthv2_class_from_template_not_caption(tmp_path):
    labels = {"Holding something next to something": "0", "Pulling something from left to right": "1",
              "Pulling something from right to left": "2"}
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels/labels.json").write_text(json.dumps(labels))
    entries = [{"id": "101", "label": "holding a cup next to a pen", "template": "Holding [something] next to "
                "[something]", "placeholders": ["a cup", "a pen"]},
               {"id": "102", "label": "pulling a pen from right to left",
                "template": "Pulling [something] from right to left", "placeholders": ["a pen"]},
               {"id": "103", "label": "x", "template": "Pulling [something] from left to right", "placeholders": []}]
    (tmp_path / "labels/validation.json").write_text(json.dumps(entries))
    (tmp_path / "labels/train.json").write_text(json.dumps(entries[2:]))
    for vid in ("101", "102"):
        write_video(tmp_path / "20bn-something-something-v2" / f"{vid}.webm", 16, size=SIZE)
    ds = build_dataset("sthv2", tmp_path, subset="test", views=VIEW)
    assert ds.classes == list(labels) and [r.label for r in ds.records] == [0, 2]
    assert [m.id for m in ds.missing] == ["103"] and ds.flip == "none"
    assert shown_indices(ds[1]["video"]) == [[2, 6, 10, 14]]
    swap = build_dataset("sthv2", tmp_path, subset="test", train=True, flip="swap", views=VIEW)
    assert swap._mirror_label == {1: 2, 2: 1}
    labels = set()
    for epoch in range(12):  # a mirrored "right to left" clip is a "left to right" one
        swap.set_epoch(epoch)
        labels.add(swap[1]["label"])
    assert labels == {1, 2}
    plain = build_dataset("sthv2", tmp_path, subset="test", train=True, views=VIEW)  # TSM's recipe: no flip
    seen = set()
    for epoch in range(6):
        plain.set_epoch(epoch)
        seen.add(plain[1]["label"])
    assert plain.flip == "none" and seen == {2}


# ---------------------------------------------------------------- Something-Something V1 and Jester
@pytest.mark.parametrize("name, prefix, folder", [("sthv1", "something-something-v1", "20bn-something-something-v1"),
                                                  ("jester", "jester-v1", "20bn-jester-v1")])
def test_twentybn_frame_folders_and_class_order(tmp_path, name, prefix, folder):
    classes = ["Zooming In", "Doing other things", "Swiping Left"]
    (tmp_path / f"{prefix}-labels.csv").write_text("\n".join(classes) + "\n")
    (tmp_path / f"{prefix}-validation.csv").write_text("7;Swiping Left\n9;Zooming In\n")
    (tmp_path / f"{prefix}-train.csv").write_text("5;Doing other things\n")
    write_frames(tmp_path / folder / "7", 10, size=SIZE)
    write_frames(tmp_path / folder / "9", 30, size=SIZE)
    ds = build_dataset(name, tmp_path, subset="test", views=VIEW)
    assert ds.classes == sorted(classes) and [r.label for r in ds.records] == [1, 2]
    assert shown_indices(ds[1]["video"]) == [[3, 11, 18, 26]]  # int(7.5 * (k + 0.5))
    assert shown_indices(ds[0]["video"]) == [[1, 3, 6, 8]]
    by_file = build_dataset(name, tmp_path, subset="test", class_order="file")
    assert by_file.classes == classes and [r.label for r in by_file.records] == [2, 0]
    (tmp_path / "mine.txt").write_text("Swiping Left\nZooming In\nDoing other things\n")
    mine = build_dataset(name, tmp_path, subset="test", classes_file=str(tmp_path / "mine.txt"))
    assert [r.label for r in mine.records] == [0, 1]
    assert len(build_dataset(name, tmp_path, subset="train").missing) == 1


# ---------------------------------------------------------------- Kinetics
def test_kinetics_csv_class_folders_and_missing_clips(tmp_path):
    rows = [("abseiling", "aaaaaaaaaaa", 10, 20, "val"), ("playing cards", "bbbbbbbbbbb", 0, 10, "val"),
            ("playing cards", "ccccccccccc", 5, 15, "val"), ("zumba", "ddddddddddd", 3, 13, "val")]
    header = "label,youtube_id,time_start,time_end,split"
    (tmp_path / "validate.csv").write_text("\n".join([header] + [",".join(map(str, r)) for r in rows]) + "\n")
    train = [("abseiling", "eeeeeeeeeee", 1, 11, "train"), ("playing cards", "fffffffffff", 1, 11, "train"),
             ("zumba", "ggggggggggg", 1, 11, "train"), ("yoga", "hhhhhhhhhhh", 1, 11, "train")]
    (tmp_path / "train.csv").write_text("\n".join([header] + ['"%s",%s,%d,%d,%s' % r for r in train]) + "\n")
    write_video(tmp_path / "val/abseiling/aaaaaaaaaaa_000010_000020.mp4", 24, size=SIZE)
    write_video(tmp_path / "val/playing_cards/bbbbbbbbbbb_000000_000010.mp4", 24, size=SIZE)
    write_video(tmp_path / "val/zumba/ddddddddddd.mp4", 24, size=SIZE)  # name without times
    ds = build_dataset("kinetics400", tmp_path, subset="test", views=VIEW)
    assert ds.classes == ["abseiling", "playing cards", "yoga", "zumba"]
    assert [(r.id, r.label) for r in ds.records] == [("aaaaaaaaaaa_000010_000020", 0),
                                                    ("bbbbbbbbbbb_000000_000010", 1),
                                                    ("ddddddddddd_000003_000013", 3)]
    assert [m.id for m in ds.missing] == ["ccccccccccc_000005_000015"]
    assert len(ds.list_hash()) == 12 and any("400" in n for n in ds.index.notes)
    dense = build_dataset("kinetics400", tmp_path, subset="test",
                          views=ViewSpec(frames=4, clips=2, sampling="dense", interval=2, short_side=64,
                                         crop_size=64))
    assert shown_indices(dense[0]["video"]) == [[0, 2, 4, 6], [16, 18, 20, 22]]  # starts linspace(0, 24-8)
    assert check_dataset("kinetics700", tmp_path).missing == 1


# ---------------------------------------------------------------- Diving48
def test_diving48_v2_json_and_vocab(tmp_path):
    vocab = [["Back", "15som", "05Twis", "FREE"], ["Forward", "25som", "NoTwis", "PIKE"]]
    (tmp_path / "Diving48_vocab.json").write_text(json.dumps(vocab))
    entries = [{"vid_name": "-mmq0PT-u8k_00155", "label": 1, "start_frame": 0, "end_frame": 30},
               {"vid_name": "zzz_00001", "label": 0, "start_frame": 4, "end_frame": 40}]
    (tmp_path / "Diving48_V2_test.json").write_text(json.dumps(entries))
    write_video(tmp_path / "rgb/-mmq0PT-u8k_00155.mp4", 30, size=SIZE)
    ds = build_dataset("diving48", tmp_path, subset="test", views=VIEW)
    assert ds.classes == ["Back 15som 05Twis FREE", "Forward 25som NoTwis PIKE"]
    assert ds.records[0].label == 1 and ds.records[0].meta == {"start_frame": 0, "end_frame": 30}
    assert [m.id for m in ds.missing] == ["zzz_00001"] and "Diving48 V2" in ds.index.notes
    with pytest.raises(VbenchError, match="Diving48_test.json"):
        build_dataset("diving48", tmp_path, subset="test", version="v1")


# ---------------------------------------------------------------- annotation lists
def test_list_of_videos_and_of_frame_folders(tmp_path):
    write_video(tmp_path / "videos/a.mp4", 16, size=SIZE)
    write_frames(tmp_path / "frames/b", 12, template="img_{:05d}.jpg", size=SIZE)
    (tmp_path / "val.txt").write_text("videos/a.mp4 2\nframes/b 12 0\nframes/gone 9 1\n")
    (tmp_path / "classes.txt").write_text("x\ny\nz\n")
    ds = build_dataset("list", tmp_path, subset="test", test_list="val.txt", classes_file=str(tmp_path / "classes.txt"),
                       views=VIEW)
    assert ds.classes == ["x", "y", "z"] and [r.label for r in ds.records] == [2, 0] and len(ds.missing) == 1
    assert shown_indices(ds[0]["video"]) == [[2, 6, 10, 14]] and shown_indices(ds[1]["video"]) == [[1, 4, 7, 10]]
    with pytest.raises(VbenchError, match="needs train_list=FILE"):
        build_dataset("list", tmp_path, subset="train")


# ---------------------------------------------------------------- registry
def test_registry_names_and_unknown_names():
    from vbench.data import list_datasets

    assert {"ucf101", "hmdb51", "sthv1", "sthv2", "jester", "kinetics400", "kinetics600", "kinetics700", "diving48",
            "list", "synthetic"} <= set(list_datasets())
    with pytest.raises(VbenchError, match="unknown dataset 'kinetics4OO'. Did you mean: kinetics400"):
        build_dataset("kinetics4OO", ".")
    with pytest.raises(VbenchError, match="sthv2 has no option class_order"):
        build_dataset("sthv2", ".", class_order="file")


class _Constant(torch.utils.data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return {"video": torch.full((2, 3, 4, 5, 5), float(i)), "label": i, "index": i, "id": str(i)}


@pytest.mark.parametrize("workers", [0, 2])
def test_collate_stacks_in_shared_memory_inside_workers(workers):
    """In a worker the batch is built in shared memory (no second copy to reach the main process)."""
    batches = list(torch.utils.data.DataLoader(_Constant(), batch_size=2, collate_fn=collate, num_workers=workers))
    assert [b["video"][:, 1, 2, 3, 4, 4].tolist() for b in batches] == [[0.0, 1.0], [2.0, 3.0]]
    assert all(b["video"].is_shared() == (workers > 0) for b in batches)
