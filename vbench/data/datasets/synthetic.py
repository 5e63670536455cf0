"""Synthetic motion clips: no files, deterministic from a seed, the embedded default dataset.

Each video shows a textured square on a static textured background; the class is its
motion: ``static``, ``moving left``, ``moving right``, ``moving up``, ``moving down``
(one pixel a frame, on a torus: it wraps around the frame edges). Frames are rendered
in memory when asked for, through the same sampling and transforms as real data.

Why a model that ignores time order cannot beat chance on the direction classes: a
"moving left" video is, frame for frame, a "moving right" video played backwards, and
vbench makes the *set* of frames a model sees identically distributed for both:

- the start position is uniform over the whole torus, so any translation of the
  positions is equally likely;
- videos have ``frames x m`` frames, so TSN segment sampling takes positions
  ``m k + r_k`` (test: ``r_k`` = a constant; training: ``r_k`` i.i.d. uniform on
  0..m-1), whose reversal ``m (T-1-k) + (m-1-r_k)`` has the same law up to a
  translation; dense clips are arithmetic progressions, likewise (``m`` is the dense
  interval then, so a clip never wraps);
- background, sprite, speed and per-frame noise are drawn independently of the class.

So the unordered set of sampled frames of a left video has exactly the distribution of
that of a right video (and up of down): any per-frame model with order-free pooling
(TSN's average) has the same output distribution for both and is right half the time
on each pair, at best 60% overall (static and the axis can be seen frame by frame),
while a model of time order can reach 100%. Mirroring swaps left and right, so the
dataset's flip pairs make ``flip="swap"`` (its default) keep labels right.

``motion="scale"`` (``-o motion=scale``) is a second benchmark: ``static``, ``growing``,
``shrinking``, a square that grows or shrinks about a fixed centre. Translation on a
torus leaves every frame's global statistics alike, so it hides motion from a model that
reads time only through spatially pooled frame descriptors (TAda2D's calibration); a
size change moves those statistics, so this one tells whether such a path learns order at
all. The same argument holds: the size is ``size(k)``, with ``k`` stepping by +1 or -1 a
frame over ``3/2`` of the video length, and the start of a growing video uniform over the
values that keep ``k`` in range, that of a shrinking one over their mirror; so a growing
video played backwards is a shrinking one with the same law (tested), an order-blind model
is at chance on the pair (at most 66.7% overall), and horizontal flips keep labels.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from vbench.data.records import DatasetIndex, VideoRecord
from vbench.data.registry import register_dataset
from vbench.errors import VbenchError

CLASSES = ("static", "moving left", "moving right", "moving up", "moving down")
DIRECTIONS = {0: (0, 0), 1: (0, -1), 2: (0, 1), 3: (-1, 0), 4: (1, 0)}  # (dy, dx) per frame
FLIP_PAIRS = (("moving left", "moving right"),)
SCALE_CLASSES = ("static", "growing", "shrinking")
SCALE_STEPS = {0: 0, 1: 1, 2: -1}  # k per frame
MOTION_CLASSES = {"translate": CLASSES, "scale": SCALE_CLASSES}
SUBSET_CODE = {"train": 1, "test": 2}


class SyntheticReader:
    """Renders frame ``i`` of one synthetic video on demand (numpy, no codec)."""

    def __init__(self, record: VideoRecord, *, height: int, width: int, motion: str = "translate"):
        seed, subset, index = record.meta["key"]
        rng = np.random.default_rng((seed, subset, index))
        self.num_frames = record.num_frames
        self._key = (seed, subset, index)
        self._height, self._width = height, width
        coarse = rng.integers(0, 256, size=(height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
        background = np.kron(coarse, np.ones((8, 8, 1), dtype=np.uint8))[:height, :width] // 2 + 32
        side = max(4, min(height, width) // 4)
        colour = rng.integers(128, 256, size=3)
        sprite = np.clip(colour + rng.integers(-40, 41, size=(side, side, 3)), 0, 255).astype(np.uint8)
        self._canvas = background
        self._sprite = np.zeros_like(background)
        self._sprite[:side, :side] = sprite
        self._mask = np.zeros((height, width, 1), dtype=bool)
        self._mask[:side, :side] = True
        self._start = (int(rng.integers(height)), int(rng.integers(width)))
        self._motion = motion
        if motion == "translate":
            self._step = DIRECTIONS[record.label]
        else:
            self._init_scale(rng, record.label)

    def _init_scale(self, rng: np.random.Generator, label: int) -> None:
        """Sizes ``size(k)`` for k in 0..K-1, K = 3/2 of the video; the start k drawn so that k stays in range."""
        n = self.num_frames
        self._levels = n * 3 // 2
        self._min_side = max(2, min(self._height, self._width) // 8)
        self._max_side = max(self._min_side + 1, min(self._height, self._width) * 3 // 4)
        texture = rng.integers(128, 256, size=3) + rng.integers(-40, 41, size=(self._max_side, self._max_side, 3))
        self._texture = np.clip(texture, 0, 255).astype(np.uint8)
        self._step_k = SCALE_STEPS[label]
        low, high = {0: (0, self._levels - 1), 1: (0, self._levels - n), -1: (n - 1, self._levels - 1)}[self._step_k]
        self._k0 = int(rng.integers(low, high + 1))

    def side(self, i: int) -> int:
        """The square's side in frame ``i`` (scale motion)."""
        k = self._k0 + self._step_k * i
        return self._min_side + k * (self._max_side - self._min_side) // (self._levels - 1)

    def _scaled(self, i: int) -> np.ndarray:
        side = self.side(i)
        first = (self._max_side - side) // 2
        rows = (self._start[0] - side // 2 + np.arange(side)) % self._height
        cols = (self._start[1] - side // 2 + np.arange(side)) % self._width
        image = self._canvas.copy()
        image[np.ix_(rows, cols)] = self._texture[first:first + side, first:first + side]
        return image

    def frame(self, i: int) -> np.ndarray:
        if self._motion == "scale":
            image = self._scaled(i).astype(np.int16)
        else:
            shift = ((self._start[0] + self._step[0] * i) % self._height,
                     (self._start[1] + self._step[1] * i) % self._width)
            sprite = np.roll(self._sprite, shift, axis=(0, 1))
            mask = np.roll(self._mask, shift, axis=(0, 1))
            image = np.where(mask, sprite, self._canvas).astype(np.int16)
        noise = np.random.default_rng((*self._key, 1 + i)).integers(-6, 7, size=image.shape, dtype=np.int16)
        return np.clip(image + noise, 0, 255).astype(np.uint8)

    def get(self, indices) -> np.ndarray:
        return np.stack([self.frame(int(i)) for i in indices])

    def close(self) -> None:
        pass


@register_dataset("synthetic", description="generated motion clips (static / left / right / up / down, or with "
                                              "motion=scale static / growing / shrinking), no files",
                  layout="none: generated from the seed", needs_root=False, takes_views=True,
                  source="vbench",
                  options="motion (translate|scale), videos_per_class, size, length_factor, data_seed (the videos; "
                          "build_dataset's seed draws the training clips)")
def synthetic(root: Path | None, split: None, subset: str, views=None, videos_per_class: int | None = None,
              size: int = 64, length_factor: int = 4, data_seed: int = 0, motion: str = "translate") -> DatasetIndex:
    if motion not in MOTION_CLASSES:
        raise VbenchError(f"synthetic motion must be one of {', '.join(MOTION_CLASSES)}, got '{motion}'")
    classes = MOTION_CLASSES[motion]
    frames = views.frames if views is not None else 8
    dense = views is not None and views.sampling != "segment"
    factor = max(length_factor, views.frame_interval) if dense else length_factor
    count = videos_per_class or (32 if subset == "train" else 8)
    height, width = size, size * 4 // 3
    records = [VideoRecord(id=f"synthetic-{subset}-{i:05d}", label=i % len(classes), path=f"synthetic://{subset}/{i}",
                           num_frames=frames * factor, meta={"key": (data_seed, SUBSET_CODE[subset], i)})
               for i in range(count * len(classes))]
    pairs = FLIP_PAIRS if motion == "translate" else ()
    return DatasetIndex("synthetic", "", None, subset, list(classes), records, flip_pairs=pairs,
                        default_flip="swap" if pairs else "random",
                        open_reader=partial(SyntheticReader, height=height, width=width, motion=motion),
                        notes=[f"{frames * factor}-frame videos of {height}x{width}, motion {motion}"])
