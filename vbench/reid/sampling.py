"""Which frames of a tracklet make the test clips; a tracklet's feature is their mean.

- ``dense``: consecutive clips of ``seq_len`` frames covering the whole tracklet; the last
  clip is completed by cycling its own frames (jiyanggao/Video-Person-ReID's ``dense``
  test sampling, used by most PyTorch video re-id code).
- ``all``: every frame once, in ceil(n / seq_len) interleaved clips (clip j takes frames
  j, j + s, j + 2s, ... with s the number of clips), so every clip spans the tracklet;
  a short clip is completed by repeating its last frame (order kept).
- ``evenly``: one clip of ``seq_len`` frames at the centres of ``seq_len`` equal segments
  (frames repeat when the tracklet is shorter than the clip).
"""

from __future__ import annotations

import math

from vbench.errors import VbenchError

SAMPLINGS = ("dense", "all", "evenly")


def clip_indices(num_frames: int, sampling: str = "dense", seq_len: int = 8) -> list[list[int]]:
    """Frame indices of each test clip of a tracklet of ``num_frames`` frames."""
    if sampling not in SAMPLINGS:
        raise VbenchError(f"unknown test sampling '{sampling}': choose from {', '.join(SAMPLINGS)}")
    if seq_len < 1:
        raise VbenchError(f"seq-len must be positive, got {seq_len}")
    if num_frames < 1:
        raise VbenchError("a tracklet without frames cannot be sampled")
    if sampling == "evenly":
        return [[min(num_frames - 1, int((i + 0.5) * num_frames / seq_len)) for i in range(seq_len)]]
    if sampling == "dense":
        clips = []
        for start in range(0, num_frames, seq_len):
            clip = list(range(start, min(start + seq_len, num_frames)))
            clips.append([clip[i % len(clip)] for i in range(seq_len)])
        return clips
    stride = math.ceil(num_frames / seq_len)
    clips = []
    for offset in range(stride):
        clip = list(range(offset, num_frames, stride))[:seq_len]
        clips.append(clip + [clip[-1]] * (seq_len - len(clip)))
    return clips
