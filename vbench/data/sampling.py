"""Which frames a clip takes: TSN segment sampling and I3D-style dense sampling.

0-based frame indices, one list per clip. The formulas are those of TSM's data loader
(mit-han-lab/temporal-shift-module, ops/dataset.py), the code base behind the test
protocols vbench reproduces:

- segment, training: the video is cut into T equal segments of ``n // T`` frames and one
  frame is drawn at random in each (``_sample_indices``); a video shorter than that
  draws T sorted random frames; a video of T frames or fewer is spread evenly (TSM gives
  frame 0 T times there, which only drops information).
- segment, test: ``tick = n / T`` and frame ``int(tick * (k + f))`` of segment k, with
  f = 1/2 (the centre) for one clip. TSM's "twice sample" (2 clips) adds f = 0, the start
  of each segment; clip c of C takes ``f = (1/2 + c / C) mod 1``, which gives exactly
  TSM's two clips and spreads more clips evenly.
- dense (I3D / non-local protocol): a clip takes every ``interval``-th frame; its starts
  are drawn (training) or placed evenly (test: ``linspace(0, n - span, C)``, truncated)
  in the first ``n - span + 1`` frames, and indices past the end wrap modulo ``n``
  (``_get_test_indices`` with ``dense_sample``). TSM's code fixes ``span = 64`` and
  ``interval = 64 // T`` whatever T is; ``span=None`` is vbench's own rule, the frames
  the clip covers (``T * interval``). The two agree for T = 8, 16, 32, 64 only (T = 10,
  120 frames: clip 2 starts at 12 in TSM, 13 with vbench's rule).
- mmaction2-dense (mmaction2 1.2.0 ``SampleFrames`` in test mode, clip_len > 1): a clip
  covers ``(T - 1) * interval + 1`` frames; clip k of C starts at
  ``round(k * max(n - covered, 0) / (C - 1))`` (numpy's round: halves to even), one clip
  at ``max(n - covered, 0) // 2``; indices past the end wrap modulo n ("loop"). Training
  draws as dense.
"""

from __future__ import annotations

import numpy as np

from vbench.errors import VbenchError

SAMPLINGS = ("segment", "dense", "mmaction2-dense")


def segment_train(num_frames: int, frames: int, rng: np.random.Generator) -> list[int]:
    average = num_frames // frames
    if average > 0:
        offsets = np.arange(frames) * average + rng.integers(0, average, size=frames)
    elif num_frames > frames:
        offsets = np.sort(rng.integers(0, num_frames, size=frames))
    else:
        offsets = (np.arange(frames) * num_frames) // frames
    return [int(i) for i in offsets]


def segment_test(num_frames: int, frames: int, clips: int = 1) -> list[list[int]]:
    tick = num_frames / float(frames)
    out = []
    for clip in range(clips):
        fraction = (0.5 + clip / clips) % 1.0
        out.append([min(int(tick * fraction + tick * k), num_frames - 1) for k in range(frames)])
    return out


def dense_train(num_frames: int, frames: int, interval: int, rng: np.random.Generator,
                span: int | None = None) -> list[int]:
    starts = max(1, 1 + num_frames - (span or frames * interval))
    start = 0 if starts == 1 else int(rng.integers(0, starts - 1))
    return [(k * interval + start) % num_frames for k in range(frames)]


def dense_test(num_frames: int, frames: int, interval: int, clips: int, span: int | None = None) -> list[list[int]]:
    starts = max(1, 1 + num_frames - (span or frames * interval))
    return [[(k * interval + int(start)) % num_frames for k in range(frames)]
            for start in np.linspace(0, starts - 1, num=clips, dtype=int)]


def mmaction2_dense_test(num_frames: int, frames: int, interval: int, clips: int) -> list[list[int]]:
    max_offset = max(num_frames - ((frames - 1) * interval + 1), 0)
    if clips > 1:
        starts = np.round(np.arange(clips) * (max_offset / float(clips - 1)))
    else:
        starts = [max_offset // 2]
    return [[(int(start) + k * interval) % num_frames for k in range(frames)] for start in starts]


def sample_clips(num_frames: int, *, frames: int, clips: int = 1, sampling: str = "segment", interval: int = 8,
                 train: bool = False, rng: np.random.Generator | None = None,
                 span: int | None = None) -> list[list[int]]:
    """Frame indices of each clip of a ``num_frames``-frame video (one clip in training).

    ``span``: the window dense starts are placed in (None: ``frames * interval``)."""
    if num_frames < 1:
        raise ValueError("a video needs at least one frame")
    if sampling not in SAMPLINGS:
        raise VbenchError(f"unknown sampling '{sampling}'; choose one of {', '.join(SAMPLINGS)}")
    if train:
        rng = rng if rng is not None else np.random.default_rng()
        if sampling == "segment":
            return [segment_train(num_frames, frames, rng)]
        return [dense_train(num_frames, frames, interval, rng, span)]
    if sampling == "segment":
        return segment_test(num_frames, frames, clips)
    if sampling == "mmaction2-dense":
        return mmaction2_dense_test(num_frames, frames, interval, clips)
    return dense_test(num_frames, frames, interval, clips, span)
