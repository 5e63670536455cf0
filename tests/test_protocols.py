"""Presets named after a code base replicate it: TSM's dense test sampling and its
GroupFullResSample three crops, with the reference arithmetic written out here from
mit-han-lab/temporal-shift-module (ops/dataset.py ``_get_test_indices``, ops/transforms.py
``GroupFullResSample``), 0-based (TSM adds 1 for its 1-based image files)."""

import numpy as np
import pytest
import torch

from vbench.data import VIEW_PRESETS, sample_clips
from vbench.data.transforms import crop_boxes, views_for_test


def tsm_dense_test_indices(num_frames: int, segments: int) -> list[list[int]]:
    sample_pos = max(1, 1 + num_frames - 64)
    t_stride = 64 // segments
    starts = np.linspace(0, sample_pos - 1, num=10, dtype=int)
    return [[(idx * t_stride + int(start)) % num_frames for idx in range(segments)] for start in starts]


def tsm_full_res_offsets(image_w: int, image_h: int, crop: int) -> list[tuple[int, int]]:
    """(left, top) of GroupFullResSample's left, right and centre crops."""
    w_step, h_step = (image_w - crop) // 4, (image_h - crop) // 4
    return [(0 * w_step, 2 * h_step), (4 * w_step, 2 * h_step), (2 * w_step, 2 * h_step)]


def preset_clips(name: str, num_frames: int, frames: int) -> list[list[int]]:
    spec = VIEW_PRESETS[name].spec.replace(frames=frames)
    return sample_clips(num_frames, frames=spec.frames, clips=spec.clips, sampling=spec.sampling,
                        interval=spec.frame_interval, span=spec.dense_span)


@pytest.mark.parametrize("frames", [4, 8, 10, 12, 16, 24, 32])
@pytest.mark.parametrize("num_frames", [20, 64, 65, 120, 300])
def test_tsm_dense_10x3_takes_the_frame_indices_of_tsm_test_code(frames, num_frames):
    assert preset_clips("tsm-dense-10x3", num_frames, frames) == tsm_dense_test_indices(num_frames, frames)


def test_ten_frames_of_a_120_frame_video_start_clip_2_at_12_as_tsm_does():
    assert preset_clips("tsm-dense-10x3", 120, 10)[2][0] == 12 == tsm_dense_test_indices(120, 10)[2][0]
    assert preset_clips("vbench-dense-10x3", 120, 10)[2][0] == 13  # vbench's own rule, kept under its own name
    assert preset_clips("kinetics-10x3", 120, 10) == preset_clips("tsm-dense-10x3", 120, 10)  # the old name


@pytest.mark.parametrize("preset", ["tsm-2x3", "tsm-dense-10x3", "kinetics-10x3"])
@pytest.mark.parametrize("height, width", [(256, 341), (455, 256), (256, 256), (300, 256)])
def test_tsm_three_crops_are_group_full_res_sample_on_any_frame(preset, height, width):
    spec = VIEW_PRESETS[preset].spec
    boxes = crop_boxes(height, width, spec.crop_size, spec.crops, spec.three_crop)
    assert [(left, top) for top, left, _ in boxes] == tsm_full_res_offsets(width, height, spec.crop_size)


def position_frames(height: int, width: int, frames: int = 2) -> np.ndarray:
    """uint8 frames whose pixels encode row (red), column (green) and frame (blue)."""
    rows = np.arange(height)[:, None].repeat(width, 1)
    cols = np.arange(width)[None, :].repeat(height, 0)
    out = np.stack([np.stack([rows % 256, cols % 256, np.full_like(rows, t)], -1) for t in range(frames)])
    return out.astype(np.uint8)


def test_on_portrait_video_tsm_takes_three_identical_crops_and_long_side_steps_down_the_height():
    frames = position_frames(400, 256)  # already at the 256 short side: no resize
    tsm = views_for_test(frames, [[0, 1]], short_side=256, crop_size=256, crops=3, three_crop="width")
    assert torch.equal(tsm[0], tsm[1]) and torch.equal(tsm[1], tsm[2])
    top = 2 * ((400 - 256) // 4)  # GroupFullResSample's 2 * h_step for all three
    first_row = tsm[0][0, 0, 0, 0] * 0.229 * 255 + 0.485 * 255  # undo the normalisation of the red channel
    assert round(float(first_row)) == top
    long_side = views_for_test(frames, [[0, 1]], short_side=256, crop_size=256, crops=3, three_crop="long-side")
    tops = [round(float(v[0, 0, 0, 0] * 0.229 * 255 + 0.485 * 255)) for v in long_side]
    assert tops == [0, 4 * 36, 2 * 36]


def test_views_list_says_which_three_crop_rule_each_preset_follows():
    assert VIEW_PRESETS["tsm-2x3"].spec.three_crop == "width"
    assert VIEW_PRESETS["vbench-dense-10x3"].spec.three_crop == "long-side"
    assert "along the width (TSM)" in VIEW_PRESETS["tsm-dense-10x3"].spec.describe()
    assert "starts within n - 64" in VIEW_PRESETS["tsm-dense-10x3"].spec.describe()
    assert "along the long side" in VIEW_PRESETS["vbench-dense-10x3"].spec.describe()


def test_the_dataset_samples_with_the_preset_s_span():
    from vbench.data import build_dataset

    views = VIEW_PRESETS["tsm-dense-10x3"].spec.replace(frames=10)
    dataset = build_dataset("synthetic", None, None, "test", views=views, train=False)
    assert dataset.clip_indices(0, 120) == tsm_dense_test_indices(120, 10)


# ---------------------------------------------------------------- mmaction2 1.2.0
# Reference arithmetic from open-mmlab/mmaction2 v1.2.0: SampleFrames._get_test_clips and
# transform (loading.py), ThreeCrop / TenCrop (processing.py), mmcv's rescale_size.
def mmaction2_test_indices(num_frames: int, clip_len: int, frame_interval: int, num_clips: int,
                           twice_sample: bool = False) -> list[list[int]]:
    if clip_len == 1:  # 2D recognizer
        avg_interval = num_frames / float(num_clips)
        base_offsets = np.arange(num_clips) * avg_interval
        clip_offsets = base_offsets + avg_interval / 2.0
        if twice_sample:
            clip_offsets = np.concatenate([clip_offsets, base_offsets])
    else:
        ori_clip_len = (clip_len - 1) * frame_interval + 1
        max_offset = max(num_frames - ori_clip_len, 0)
        if num_clips > 1:
            clip_offsets = np.round(np.arange(num_clips) * (max_offset / float(num_clips - 1)))
        else:
            clip_offsets = np.array([max_offset // 2])
    inds = clip_offsets[:, None] + np.arange(clip_len)[None, :] * frame_interval
    inds = np.mod(np.concatenate(inds).reshape(-1, clip_len), num_frames).astype(np.int32)
    if clip_len == 1:  # the 2D recognizer's clips are its segments: one clip of num_clips frames
        return inds.reshape(-1, num_clips).tolist()
    return inds.tolist()


def mmaction2_three_crop(img_w: int, img_h: int, crop: int) -> list[tuple[int, int]]:
    if crop == img_h:
        step = (img_w - crop) // 2
        return [(0, 0), (2 * step, 0), (step, 0)]
    step = (img_h - crop) // 2
    return [(0, 0), (0, 2 * step), (0, step)]


def mmcv_short_side(w: int, h: int, short: int) -> tuple[int, int]:
    scale = min(np.inf / max(h, w), short / min(h, w))
    return int(w * float(scale) + 0.5), int(h * float(scale) + 0.5)


@pytest.mark.parametrize("num_frames", [20, 63, 64, 100, 119, 120, 300])
def test_mmaction2_10x3_takes_the_indices_of_sample_frames(num_frames):
    assert preset_clips("mmaction2-10x3", num_frames, 32) == mmaction2_test_indices(num_frames, 32, 2, 10)


def test_mmaction2_rounds_clip_starts_to_the_nearest_frame():
    # a 32 x 2 clip covers 63 frames; 81 frames leave 18 start positions, 67 leave 4
    starts = [clip[0] for clip in preset_clips("mmaction2-10x3", 81, 32)]  # max offset 18: step 2
    assert starts == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
    starts = [clip[0] for clip in preset_clips("mmaction2-10x3", 67, 32)]  # max offset 4: 4/9 steps
    assert starts == [int(s) for s in np.round(np.arange(10) * (4 / 9.0))] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


@pytest.mark.parametrize("preset, twice", [("mmaction2-tsn-25x10", False), ("mmaction2-tsm-1x10", False),
                                           ("mmaction2-tsm-2x3", True)])
@pytest.mark.parametrize("num_frames", [7, 25, 64, 301])
def test_mmaction2_segment_presets_take_the_indices_of_sample_frames(preset, twice, num_frames):
    spec = VIEW_PRESETS[preset].spec
    expected = mmaction2_test_indices(num_frames, 1, 1, spec.frames, twice_sample=twice)
    assert preset_clips(preset, num_frames, spec.frames) == expected


@pytest.mark.parametrize("height, width", [(256, 342), (256, 341), (256, 256), (455, 256), (256, 300)])
def test_mmaction2_three_crop_steps_by_half_the_free_length(height, width):
    spec = VIEW_PRESETS["mmaction2-10x3"].spec
    boxes = crop_boxes(height, width, spec.crop_size, 3, spec.three_crop)
    assert [(left, top) for top, left, _ in boxes] == mmaction2_three_crop(width, height, spec.crop_size)
    tsm = crop_boxes(height, width, 256, 3, "width")
    if width == 342:  # (342 - 256) = 86: mmaction2 43 and 86, TSM 2 * (86 // 4) = 42 and 84
        assert [b[1] for b in boxes] == [0, 86, 43] and [b[1] for b in tsm] == [0, 84, 42]


@pytest.mark.parametrize("height, width", [(240, 325), (240, 320), (325, 240), (480, 854), (360, 203)])
def test_mmcv_resize_rounds_the_long_side(height, width):
    from vbench.data.transforms import resize_short_side

    frames = torch.zeros(1, 3, height, width, dtype=torch.uint8)
    resized = resize_short_side(frames, 256, "mmcv")
    w, h = mmcv_short_side(width, height, 256)
    assert tuple(resized.shape[-2:]) == (h, w)
    if (height, width) == (240, 325):  # 346.67: mmcv 347, PIL-style truncation 346
        assert w == 347 and resize_short_side(frames, 256, "pil").shape[-1] == 346


def test_mmaction2_ten_crop_is_tsm_s_oversample():
    for height, width in [(256, 341), (256, 342), (300, 256)]:
        w_step, h_step = (width - 224) // 4, (height - 224) // 4
        offsets = [(0, 0), (4 * w_step, 0), (0, 4 * h_step), (4 * w_step, 4 * h_step), (2 * w_step, 2 * h_step)]
        expected = [(top, left, flip) for left, top in offsets for flip in (False, True)]
        assert crop_boxes(height, width, 224, 10) == expected
