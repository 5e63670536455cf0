"""The test views are the same tensors, to the last bit, as the straightforward implementation.

``reference_views_for_test`` is ``views_for_test`` as it was before it was made fast
(normalise whole frames, then copy view by view and frame by frame); the fast one must
agree with it under ``torch.equal`` for every view preset, on landscape and portrait
frames, including frames already at the short side (no resize).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vbench.data import transforms as T
from vbench.data.sampling import sample_clips
from vbench.data.views import VIEW_PRESETS


def reference_views_for_test(frames: np.ndarray, clips: list[list[int]], *, short_side: int, crop_size: int,
                             crops: int) -> torch.Tensor:
    x = T.normalise(T.resize_short_side(T.to_tensor(frames), short_side).contiguous())
    h, w = x.shape[-2:]
    boxes = T.crop_boxes(h, w, crop_size, crops)
    out = torch.empty(len(clips) * len(boxes), 3, len(clips[0]), crop_size, crop_size)
    for b, (top, left, mirrored) in enumerate(boxes):
        cropped = x[:, :, top:top + crop_size, left:left + crop_size]
        if mirrored:
            cropped = cropped.flip(-1)
        for c, clip in enumerate(clips):
            target = out[c * len(boxes) + b]
            for t, row in enumerate(clip):
                target[:, t] = cropped[row]
    return out


def _rows(spec, num_frames: int) -> tuple[list[int], list[list[int]]]:
    """Unique frame indices and each clip's rows into them, as ``VideoDataset._load`` builds them."""
    clips = sample_clips(num_frames, frames=spec.frames, clips=spec.clips, sampling=spec.sampling,
                         interval=spec.frame_interval, train=False, rng=None)
    unique = sorted({i for clip in clips for i in clip})
    row = {frame: position for position, frame in enumerate(unique)}
    return unique, [[row[i] for i in clip] for clip in clips]


@pytest.mark.parametrize("preset", sorted(VIEW_PRESETS))
@pytest.mark.parametrize("height,width", [(240, 320), (320, 240), (256, 300), (180, 180)])
def test_views_for_test_bit_identical_to_reference(preset, height, width):
    spec = VIEW_PRESETS[preset].spec
    unique, rows = _rows(spec, num_frames=90)
    rng = np.random.default_rng(height * 1000 + width)
    video = rng.integers(0, 256, size=(90, height, width, 3), dtype=np.uint8)
    frames = video[unique]
    sizes = dict(short_side=spec.short_side, crop_size=spec.crop_size, crops=spec.crops)
    fast = T.views_for_test(frames, rows, **sizes)
    expected = reference_views_for_test(frames, rows, **sizes)
    assert fast.shape == expected.shape == (spec.views, 3, spec.frames, spec.crop_size, spec.crop_size)
    assert fast.dtype == expected.dtype == torch.float32
    assert fast.is_contiguous()
    assert torch.equal(fast, expected)


def test_views_for_test_repeated_rows_and_mirrors():
    """Clips that share and repeat frames (a short video) and 10 crops with mirrors."""
    rng = np.random.default_rng(7)
    frames = rng.integers(0, 256, size=(3, 200, 260, 3), dtype=np.uint8)
    rows = [[0, 0, 1, 2], [2, 2, 2, 1]]
    fast = T.views_for_test(frames, rows, short_side=128, crop_size=112, crops=10)
    assert torch.equal(fast, reference_views_for_test(frames, rows, short_side=128, crop_size=112, crops=10))
    assert torch.equal(fast[1], fast[0].flip(-1))  # the centre-left corner's mirror is its flipped image


def test_views_take_the_models_own_normalisation():
    """R(2+1)D's and torchvision's video weights expect Kinetics statistics, not ImageNet's."""
    from vbench.models import model_info

    frames = np.random.default_rng(0).integers(0, 256, (4, 40, 48, 3), dtype=np.uint8)
    info = model_info("tv_r2plus1d_18")
    assert info.mean != T.IMAGENET_MEAN
    views = T.views_for_test(frames, [[0, 1, 2, 3]], short_side=40, crop_size=40, crops=1, mean=info.mean,
                             std=info.std)
    expected = (torch.from_numpy(frames[:, :, 4:44]).permute(3, 0, 1, 2).float() / 255
                - torch.tensor(info.mean).view(3, 1, 1, 1)) / torch.tensor(info.std).view(3, 1, 1, 1)
    assert torch.allclose(views[0], expected, atol=1e-5)
    imagenet = T.views_for_test(frames, [[0, 1, 2, 3]], short_side=40, crop_size=40, crops=1)
    assert not torch.allclose(views, imagenet, atol=1e-2)


def test_a_dataset_built_for_a_model_normalises_with_its_statistics_and_says_so(tmp_path):
    import vbench
    from vbench.data import build_dataset

    info = vbench.model_info("tv_r2plus1d_18")
    options = {"videos_per_class": 1, "size": 16}
    kinetics = build_dataset("synthetic", subset="test", frames=2, mean=info.mean, std=info.std, **options)
    imagenet = build_dataset("synthetic", subset="test", frames=2, **options)
    assert kinetics.describe()["mean"] == info.mean and "mean" not in imagenet.describe()
    assert not torch.equal(kinetics[0]["video"], imagenet[0]["video"])


@pytest.mark.parametrize("preset", ["1x1", "tsm-2x3", "kinetics-10x3", "mmaction2-tsn-25x10", "tsm-1x10"])
@pytest.mark.parametrize("frame_size", [(240, 320), (320, 240), (256, 340)])
def test_views_cut_on_the_device_equal_the_loaders_to_the_last_bit(preset, frame_size):
    """The GPU path ships the resized frames and cuts the views there: the same float views."""
    spec = VIEW_PRESETS[preset].spec
    unique, rows = _rows(spec, num_frames=90)
    frames = np.random.default_rng(3).integers(0, 256, size=(90, *frame_size, 3), dtype=np.uint8)[unique]
    sizes = dict(short_side=spec.short_side, crop_size=spec.crop_size, crops=spec.crops,
                 three_crop=spec.three_crop, resize=spec.resize)
    stats = dict(mean=(0.43, 0.4, 0.37), std=(0.23, 0.22, 0.22))
    deferred = T.defer_test_views(frames, rows, **sizes)
    assert deferred.frames.dtype == torch.uint8 and len(deferred.frames) == len(unique)  # each frame once
    assert deferred.views == spec.views
    assert torch.equal(deferred.materialise("cpu", **stats), T.views_for_test(frames, rows, **sizes, **stats))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_views_cut_on_cuda_equal_the_loaders():
    unique, rows = _rows(VIEW_PRESETS["tsm-1x10"].spec, num_frames=90)
    frames = np.random.default_rng(4).integers(0, 256, size=(90, 240, 320, 3), dtype=np.uint8)[unique]
    sizes = dict(short_side=256, crop_size=224, crops=10)
    on_device = T.defer_test_views(frames, rows, **sizes).pin_memory().materialise("cuda")
    assert on_device.is_cuda and torch.equal(on_device.cpu(), T.views_for_test(frames, rows, **sizes))


def test_score_views_cuts_deferred_views_as_the_loader_would(tmp_path):
    """A dataset built with ``deferred_views`` scores exactly as one that cuts views in the loader."""
    from vbench.data import build_dataset, collate
    from vbench.evaluation.scoring import score_views

    options = dict(subset="test", views="tsm-2x3", frames=2, videos_per_class=1, size=40)
    floats = build_dataset("synthetic", **options)
    deferred = build_dataset("synthetic", deferred_views=True, **options)
    assert isinstance(deferred[0]["video"], T.DeferredViews) and floats[0]["video"].dtype == torch.float32
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(5))
    batch_f, batch_d = collate([floats[0], floats[1]]), collate([deferred[0], deferred[1]])
    cpu = torch.device("cpu")
    expected = score_views(model, batch_f["video"], cpu, torch.float32)
    assert expected.shape == (2, 6, 5)
    got = score_views(model, batch_d["video"], cpu, torch.float32, mean=deferred.mean, std=deferred.std)
    assert torch.equal(got, expected)
    with pytest.raises(ValueError, match="mean and std"):
        score_views(model, batch_d["video"], cpu, torch.float32)


def test_deferred_views_cross_a_dataloader_worker_intact():
    """Eval's GPU path: DeferredViews made in a worker process, batched by ``collate``."""
    from vbench.data import build_dataset, collate

    options = dict(subset="test", views="tsm-2x3", frames=2, videos_per_class=1, size=40)
    floats = build_dataset("synthetic", **options)
    deferred = build_dataset("synthetic", deferred_views=True, **options)
    loader = torch.utils.data.DataLoader(deferred, batch_size=2, num_workers=1, collate_fn=collate)
    batch = next(iter(loader))
    assert [type(v) for v in batch["video"]] == [T.DeferredViews] * 2
    for position, index in enumerate(batch["index"].tolist()):
        cut = batch["video"][position].materialise("cpu", deferred.mean, deferred.std)
        assert torch.equal(cut, floats[index]["video"])
