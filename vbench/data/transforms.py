"""Spatial transforms of a clip: the test views and the TSN-style training crops.

Frames arrive as uint8 ``(N, H, W, 3)``; every transform is applied to all frames of a
clip alike. Resizing is bilinear with antialiasing on uint8 (torchvision's fast path,
rounded like PIL's ``Image.resize``, which TSN/TSM use through ``GroupScale``). The
crop positions follow TSM's ``ops/transforms.py``: centre = torchvision ``CenterCrop``;
3 crops = ``GroupFullResSample`` (offsets 0, 4 and 2 quarter-steps of the free length,
ordered left, right, centre). TSM always steps along the width (``three_crop="width"``),
so on portrait video its three crops are one and the same; vbench's ``"long-side"``
steps along the long side instead, covering portrait videos too. 5 and 10 crops =
``GroupOverSample`` (4 corners and centre, each followed by its mirror image for 10).

Training: ``multiscale`` is TSM's ``GroupMultiScaleCrop`` (scales 1, .875, .75, .66 of
the short side, aspect distortion of at most one step, 13 fixed positions) after the
short side is resized to ``short_side`` (mmaction2's TSM recipe resizes to 256 first),
then resized to the crop size; ``random_resized`` is torchvision's RandomResizedCrop
(area 8%-100%, aspect 3/4-4/3) drawn once per clip.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
from torchvision.transforms.v2 import functional as F

from vbench.errors import VbenchError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TRAIN_CROPS = ("multiscale", "random_resized")


@functools.lru_cache(maxsize=8)
def _statistics(mean: tuple[float, ...], std: tuple[float, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """The (3, 1, 1, 1) mean and std on the uint8 scale, made once per pair."""
    return torch.tensor(mean).view(3, 1, 1, 1) * 255, torch.tensor(std).view(3, 1, 1, 1) * 255


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 array -> (N, 3, H, W) uint8 tensor (a view, no copy)."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)


RESIZES = ("pil", "mmcv")


def resize_short_side(frames: torch.Tensor, size: int, rule: str = "pil") -> torch.Tensor:
    """Short side to ``size``.

    "pil": long side ``int(size * long / short)`` as torchvision Resize, antialiased
    bilinear (PIL's, which TSN/TSM's GroupScale uses). "mmcv": mmaction2's
    ``Resize(scale=(-1, size))``: both sides ``int(side * size / short + 0.5)`` (mmcv
    ``rescale_size``) and bilinear without antialiasing, OpenCV's sampling grid (pixel
    values may differ from OpenCV's fixed-point arithmetic by rounding)."""
    h, w = frames.shape[-2:]
    if min(h, w) == size:
        return frames
    if rule == "mmcv":
        scale = size / min(h, w)
        return F.resize(frames, [int(h * scale + 0.5), int(w * scale + 0.5)], antialias=False)
    new = (size, int(size * w / h)) if h <= w else (int(size * h / w), size)
    return F.resize(frames, list(new), antialias=True)


THREE_CROPS = ("long-side", "width", "mmaction2")


def crop_boxes(height: int, width: int, size: int, crops: int,
               three_crop: str = "long-side") -> list[tuple[int, int, bool]]:
    """(top, left, mirrored) of each test crop of side ``size`` in a height x width frame.

    ``three_crop``: "width" steps 3 crops along the width as TSM's GroupFullResSample
    does on any frame; "long-side" steps along the long side (the same on landscape);
    "mmaction2" is its ThreeCrop: offsets 0, 2 and 1 steps of ``(long - size) // 2``
    along the side the crop does not span."""
    if crops == 1:
        return [(int(round((height - size) / 2.0)), int(round((width - size) / 2.0)), False)]
    if crops == 3 and three_crop == "mmaction2":
        if size == height:
            step = (width - size) // 2
            return [(0, k * step, False) for k in (0, 2, 1)]
        if size == width:
            step = (height - size) // 2
            return [(k * step, 0, False) for k in (0, 2, 1)]
        raise VbenchError(f"mmaction2's ThreeCrop needs a crop that spans the short side: {size} in a "
                          f"{height}x{width} frame")
    h_step, w_step = (height - size) // 4, (width - size) // 4
    if crops == 3:
        if three_crop == "width" or width >= height:
            return [(2 * h_step, k * w_step, False) for k in (0, 4, 2)]
        return [(k * h_step, 2 * w_step, False) for k in (0, 4, 2)]
    corners = [(0, 0), (0, 4 * w_step), (4 * h_step, 0), (4 * h_step, 4 * w_step), (2 * h_step, 2 * w_step)]
    if crops == 5:
        return [(t, l, False) for t, l in corners]
    return [(t, l, m) for t, l in corners for m in (False, True)]


def normalise(frames: torch.Tensor, mean: tuple[float, ...] = IMAGENET_MEAN,
              std: tuple[float, ...] = IMAGENET_STD) -> torch.Tensor:
    """uint8 ``(N, 3, H, W)`` frames, or views ``(..., 3, T, H, W)``, -> float normalised with
    ``mean`` and ``std`` (RGB in [0, 1]: the statistics the model's weights expect, ImageNet's
    by default), on the input's device.

    The same float32 operations in the same order as ``views_for_test`` (a uint8 value to
    float, minus the mean, divided by the std, both on the 0-255 scale; each correctly
    rounded in IEEE arithmetic on the CPU and on CUDA), so views cut from uint8 frames on a
    GPU (``DeferredViews``) equal the loader's floats bit for bit."""
    shape = (1, 3, 1, 1) if frames.dim() == 4 and frames.shape[1] == 3 else (3, 1, 1, 1)
    mean_t, std_t = (t.view(shape).to(frames.device) for t in _statistics(tuple(mean), tuple(std)))
    out = frames.float()  # one contiguous copy, then in place
    return out.sub_(mean_t).div_(std_t)


def _test_frames(frames: np.ndarray, clips: list[list[int]], short_side: int, crop_size: int, crops: int,
                 three_crop: str, resize: str) -> tuple[torch.Tensor, np.ndarray, list[tuple[int, int, bool]]]:
    """The resized frames ``(N, H, W, 3)`` uint8 (each sampled frame resized once), the
    clips' rows ``(clips, T)`` and the crop boxes: everything a test view is cut from."""
    x = resize_short_side(to_tensor(frames), short_side, resize)  # (N, 3, H, W), channels last
    boxes = crop_boxes(*x.shape[-2:], crop_size, crops, three_crop)
    return x.permute(0, 2, 3, 1), np.asarray(clips, dtype=np.int64), boxes


def views_for_test(frames: np.ndarray, clips: list[list[int]], *, short_side: int, crop_size: int,
                   crops: int, three_crop: str = "long-side", resize: str = "pil",
                   mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD) -> torch.Tensor:
    """``(clips x crops, 3, T, S, S)`` float views; ``clips`` index rows of ``frames``,
    normalised with ``mean`` and ``std``.

    The time goes into writing the float output (30 views of 256x256 are 190 MB), so
    everything before that stays uint8: each frame is resized once, the clips' frames are
    gathered with one index, and each crop is a strided window of them (its mirror a
    flipped window). Each view is then written once from uint8 and normalised in place
    while it is still in cache (one op over all views, 190 MB, ran 1.7x slower). The
    result is bit-identical to normalising whole frames first: cropping, gathering and
    flipping only move values, and each element still gets ``(x - mean) / std`` in float32.
    ``DeferredViews`` cuts the same views on a GPU instead.
    """
    pixels, rows, boxes = _test_frames(frames, clips, short_side, crop_size, crops, three_crop, resize)
    h, w = pixels.shape[1:3]
    if not np.array_equal(rows.ravel(), np.arange(len(pixels))):  # one clip of distinct frames needs no gather
        # numpy's gather is a copy per row; torch's index_select, threaded on this small a copy,
        # took 50 ms instead of 1 on a loaded 2-core CPU
        pixels = torch.from_numpy(np.take(pixels.numpy(), rows.ravel(), axis=0))
    gathered = pixels.reshape(*rows.shape, h, w, 3).permute(0, 4, 1, 2, 3)
    out = torch.empty(len(clips), len(boxes), 3, rows.shape[1], crop_size, crop_size)
    mean_t, std_t = _statistics(tuple(mean), tuple(std))
    for b, (top, left, mirrored) in enumerate(boxes):
        window = gathered[..., top:top + crop_size, left:left + crop_size]  # (C, 3, T, S, S), no copy
        if mirrored:
            window = window.flip(-1)
        for c in range(len(clips)):
            out[c, b].copy_(window[c]).sub_(mean_t).div_(std_t)
    return out.view(-1, *out.shape[2:])


@dataclass
class DeferredViews:
    """A video's test views, not yet cut: the resized frames (uint8 ``(N, H, W, 3)``), the
    clips' rows and the crop boxes. ``materialise`` cuts and normalises them where they
    are, so a GPU does it after the copy.

    Why: with many views the CPU's work is the views, not the decoding (30 views of
    256x256 are 47 MB of uint8 cut from 17 MB of frames, 190 MB once float), and a GPU
    cuts them in microseconds. The loader then only decodes and resizes, and moves the
    frames once. The views equal ``views_for_test``'s to the last bit (the same moves of
    values, the same float32 ``(x - mean) / std``; tested).
    """

    frames: torch.Tensor
    rows: torch.Tensor  # (clips, T) indices into frames
    boxes: torch.Tensor  # (crops, 3): top, left, mirrored
    crop_size: int

    @property
    def views(self) -> int:
        return len(self.rows) * len(self.boxes)

    def pin_memory(self) -> DeferredViews:
        """For the DataLoader's ``pin_memory``: the frames in page-locked memory."""
        return DeferredViews(self.frames.pin_memory(), self.rows, self.boxes, self.crop_size)

    def materialise(self, device: torch.device | str = "cpu", mean: tuple[float, ...] = IMAGENET_MEAN,
                    std: tuple[float, ...] = IMAGENET_STD) -> torch.Tensor:
        """``(views, 3, T, S, S)`` float views on ``device``, in ``views_for_test``'s order."""
        frames = self.frames.to(device, non_blocking=True)
        clips = frames[self.rows.to(device)]  # (C, T, H, W, 3)
        size = self.crop_size
        crops = []
        for top, left, mirrored in self.boxes.tolist():
            window = clips[:, :, top:top + size, left:left + size]
            crops.append(window.flip(-2) if mirrored else window)
        views = torch.stack(crops, 1).permute(0, 1, 5, 2, 3, 4).contiguous()  # (C, crops, 3, T, S, S) uint8
        return normalise(views.flatten(0, 1), mean, std)


def defer_test_views(frames: np.ndarray, clips: list[list[int]], *, short_side: int, crop_size: int,
                     crops: int, three_crop: str = "long-side", resize: str = "pil") -> DeferredViews:
    """``views_for_test``'s views as ``DeferredViews``: only the resize runs here."""
    pixels, rows, boxes = _test_frames(frames, clips, short_side, crop_size, crops, three_crop, resize)
    return DeferredViews(pixels.contiguous(), torch.from_numpy(rows),
                         torch.tensor(boxes, dtype=torch.int64).view(-1, 3), crop_size)


def multiscale_box(height: int, width: int, size: int, rng: np.random.Generator,
                   scales=(1, 0.875, 0.75, 0.66), max_distort: int = 1) -> tuple[int, int, int, int]:
    """(top, left, crop height, crop width) as TSM's GroupMultiScaleCrop draws them."""
    base = min(height, width)
    sizes = [int(base * s) for s in scales]
    crop_h = [size if abs(s - size) < 3 else s for s in sizes]
    crop_w = [size if abs(s - size) < 3 else s for s in sizes]
    pairs = [(w, h) for i, h in enumerate(crop_h) for j, w in enumerate(crop_w) if abs(i - j) <= max_distort]
    cw, ch = pairs[int(rng.integers(len(pairs)))]
    ws, hs = (width - cw) // 4, (height - ch) // 4
    offsets = [(0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs),
               (0, 2 * hs), (4 * ws, 2 * hs), (2 * ws, 4 * hs), (2 * ws, 0),
               (ws, hs), (3 * ws, hs), (ws, 3 * hs), (3 * ws, 3 * hs)]
    left, top = offsets[int(rng.integers(len(offsets)))]
    return top, left, ch, cw


def random_resized_box(height: int, width: int, rng: np.random.Generator, scale=(0.08, 1.0),
                       ratio=(3 / 4, 4 / 3)) -> tuple[int, int, int, int]:
    """(top, left, crop height, crop width) as torchvision's RandomResizedCrop draws them."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_ratio))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
    side = min(height, width)  # fallback: the central square
    return (height - side) // 2, (width - side) // 2, side, side


def train_view(frames: np.ndarray, *, short_side: int, crop_size: int, crop: str, mirrored: bool,
               rng: np.random.Generator, mean: tuple[float, ...] = IMAGENET_MEAN,
               std: tuple[float, ...] = IMAGENET_STD) -> torch.Tensor:
    """One training view ``(1, 3, T, S, S)`` of a clip's frames (in clip order)."""
    x = resize_short_side(to_tensor(frames), short_side)
    h, w = x.shape[-2:]
    box = multiscale_box(h, w, crop_size, rng) if crop == "multiscale" else random_resized_box(h, w, rng)
    top, left, ch, cw = box
    x = F.resize(x[..., top:top + ch, left:left + cw], [crop_size, crop_size], antialias=True)
    if mirrored:
        x = x.flip(-1)
    return normalise(x, mean, std).permute(1, 0, 2, 3).unsqueeze(0)
