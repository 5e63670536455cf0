"""The synthetic dataset: deterministic, and its direction classes need time order."""

import numpy as np
import pytest
import torch

from vbench.data import ViewSpec, VideoRecord, build_dataset, collate
from vbench.data.datasets.synthetic import CLASSES, SyntheticReader
from vbench.data.sampling import segment_test

SMALL = ViewSpec(frames=4, short_side=32, crop_size=32)


def test_deterministic_from_the_seed_and_balanced():
    a, b = build_dataset("synthetic", views=SMALL), build_dataset("synthetic", views=SMALL)
    assert a.classes == list(CLASSES) and len(a) == 40 and a.num_classes == 5
    assert [r.label for r in a.records].count(1) == 8
    torch.testing.assert_close(a[3]["video"], b[3]["video"], rtol=0, atol=0)
    other = build_dataset("synthetic", views=SMALL, data_seed=1)
    assert not torch.equal(a[3]["video"], other[3]["video"])
    train = build_dataset("synthetic", subset="train", views=SMALL, seed=0)
    assert len(train) == 160 and train.flip == "swap" and train[0]["video"].shape == (1, 3, 4, 32, 32)


def test_batches_for_eval_and_train():
    test = build_dataset("synthetic", views=ViewSpec(frames=2, clips=2, crops=3, short_side=32, crop_size=32))
    batch = collate([test[i] for i in range(3)])
    assert batch["video"].shape == (3, 6, 3, 2, 32, 32) and batch["label"].tolist() == [0, 1, 2]
    assert batch["skipped"] == []


def _frames(reader, indices):
    return reader.get(indices).astype(np.int16)


def test_left_and_right_give_the_same_set_of_frames():
    """The sampled frames of a "moving left" video are those of some "moving right" video, in reverse order."""
    frames, factor = 8, 4
    n = frames * factor
    key = {"key": (0, 2, 11)}
    left = SyntheticReader(VideoRecord("l", 1, "", num_frames=n, meta=key), height=32, width=40)
    right = SyntheticReader(VideoRecord("r", 2, "", num_frames=n, meta=key), height=32, width=40)
    for clip in segment_test(n, frames, clips=2):
        offset = clip[0]  # clip = offset + factor * k
        y, x = left._start
        right._start = (y, (x - 2 * offset - factor * (frames - 1)) % 40)
        seen_left, seen_right = _frames(left, clip), _frames(right, clip)
        # same frames up to the +-6 sensor noise, in reverse order
        assert np.abs(seen_left - seen_right[::-1]).max() <= 12
        assert np.abs(seen_left[0] - seen_left[-1]).max() > 60  # and they do move


def test_direction_is_visible_in_time_order():
    reader = SyntheticReader(VideoRecord("r", 2, "", num_frames=32, meta={"key": (0, 2, 5)}), height=32, width=40)
    still = SyntheticReader(VideoRecord("s", 0, "", num_frames=32, meta={"key": (0, 2, 5)}), height=32, width=40)
    a, b = _frames(reader, [10, 11])
    assert np.abs(a - b).max() > 60
    s = _frames(still, [0, 31])
    assert np.abs(s[0] - s[1]).max() <= 12


@pytest.mark.parametrize("sampling", ["segment", "dense"])
def test_video_length_keeps_sampling_symmetric(sampling):
    ds = build_dataset("synthetic", views=ViewSpec(frames=4, sampling=sampling, interval=6, short_side=32,
                                                   crop_size=32))
    n = ds.records[0].num_frames
    assert n % 4 == 0 and (sampling == "segment" or n >= 4 * 6)
    clip = ds.clip_indices(0, n)[0]
    assert len({b - a for a, b in zip(clip, clip[1:])}) == 1  # an arithmetic progression: reversal is a shift


def test_dataloader_workers_and_pickling():
    import pickle

    ds = build_dataset("synthetic", subset="train", views=SMALL, videos_per_class=2)
    clone = pickle.loads(pickle.dumps(ds))
    torch.testing.assert_close(clone[4]["video"], ds[4]["video"], rtol=0, atol=0)
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2, collate_fn=collate)
    batches = list(loader)
    assert sum(len(b["id"]) for b in batches) == 10 and batches[0]["video"].shape[1:] == (1, 3, 4, 32, 32)


def test_scale_motion_growing_backwards_is_shrinking():
    """motion=scale: a growing video played backwards is a shrinking one, and its start has the mirrored law."""
    n = 32
    key = {"key": (0, 2, 7)}
    grow = SyntheticReader(VideoRecord("g", 1, "", num_frames=n, meta=key), height=32, width=40, motion="scale")
    shrink = SyntheticReader(VideoRecord("s", 2, "", num_frames=n, meta=key), height=32, width=40, motion="scale")
    sides = [grow.side(i) for i in range(n)]
    assert sides == sorted(sides) and sides[-1] - sides[0] >= 10  # grows, and visibly
    shrink._k0 = grow._k0 + n - 1
    clip = list(range(1, n, 4))
    assert np.abs(_frames(grow, clip) - _frames(shrink, [n - 1 - i for i in clip])).max() <= 12
    # the start ranges mirror each other: k0 of growing videos + n - 1 spans those of shrinking ones
    starts = {lab: {SyntheticReader(VideoRecord("v", lab, "", num_frames=n, meta={"key": (0, 1, i)}), height=32,
                                    width=40, motion="scale")._k0 for i in range(400)} for lab in (1, 2)}
    assert {k + n - 1 for k in starts[1]} == starts[2]


def test_scale_motion_dataset_and_bad_motion():
    ds = build_dataset("synthetic", views=SMALL, motion="scale")
    assert ds.classes == ["static", "growing", "shrinking"] and len(ds) == 24 and ds.flip == "random"
    from vbench.errors import VbenchError

    with pytest.raises(VbenchError, match="translate, scale"):
        build_dataset("synthetic", views=SMALL, motion="spin")
