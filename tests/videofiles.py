"""Tiny real videos and frame folders for the data tests: each frame shows its own index.

The index is written as 8 black/white bars (bit 7 first), wide enough to survive lossy
codecs, so a test reads back which frame the decoder returned.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

WIDTH, HEIGHT = 64, 48


def index_image(index: int, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    bits = [(index >> (7 - b)) & 1 for b in range(8)]
    row = np.repeat(np.array(bits, dtype=np.uint8) * 255, width // 8)
    image = np.repeat(row[None, :], height, axis=0)
    return np.repeat(image[:, :, None], 3, axis=2)


def read_index(image: np.ndarray) -> int:
    """The index an ``index_image`` shows (any size: bars are found by position)."""
    gray = np.asarray(image, dtype=np.float32).mean(axis=-1) if image.ndim == 3 else np.asarray(image, np.float32)
    h, w = gray.shape
    bars = [gray[h // 4: 3 * h // 4, int((b + 0.3) * w / 8): int((b + 0.7) * w / 8)].mean() for b in range(8)]
    return int(sum((1 << (7 - b)) for b, v in enumerate(bars) if v > 127))


CODECS = {".mp4": "libx264", ".avi": "mpeg4", ".webm": "libvpx-vp9", ".mkv": "libx264"}


def write_video(path: Path, num_frames: int, *, codec: str | None = None, fps: int = 25, gop: int = 12,
                pts: list[int] | None = None, time_base: Fraction | None = None, size=(WIDTH, HEIGHT)) -> Path:
    """A real encoded video whose frame ``i`` shows ``i``; ``pts`` gives variable frame timing."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec or CODECS[path.suffix], rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = gop
        if stream.codec_context.name in ("libx264", "libvpx-vp9"):
            stream.codec_context.options = {"crf": "10"} if stream.codec_context.name == "libx264" else {"crf": "10", "b": "0"}
        else:
            stream.codec_context.bit_rate = 2_000_000
        if time_base is not None:
            stream.codec_context.time_base = time_base
        for i in range(num_frames):
            frame = av.VideoFrame.from_ndarray(index_image(i, *size), format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[i], time_base or Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_frames(folder: Path, num_frames: int, template: str = "{:05d}.jpg", start: int = 1,
                 size=(WIDTH, HEIGHT)) -> Path:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(num_frames):
        Image.fromarray(index_image(i, *size)).save(folder / template.format(start + i), quality=95)
    return folder
