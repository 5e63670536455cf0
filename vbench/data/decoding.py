"""Decoding: the frames asked for, and only those, from a video file or a frame folder.

Every reader has ``num_frames`` and ``get(indices) -> uint8 array (len(indices), H, W, 3)``
with 0-based frame indices in presentation order.

PyAV (the default) first demuxes the file without decoding (cheap) to learn each frame's
presentation timestamp and where the keyframes are; frame ``i`` is the ``i``-th smallest
timestamp. It then seeks to the keyframe before each wanted frame only when that skips
work, and decodes forward to the exact timestamp. Timestamps, not an assumed frame rate,
name the frames, so variable frame rate videos give the right frames; the packet scan
does not trust the container's index or frame count, so a broken index does not shift
them. If the decoded timestamps disagree with the scan (packed B-frames, a seek that
lands past its target), the reader falls back to decoding the whole file in order.

torchcodec and decord readers are used when installed and asked for (``decoder=``).
Frame folders (``00001.jpg``...) are read with PIL.

Whatever the file or the decoding library raises about a video (PyAV's ``av.error.*``,
OSError, a library's RuntimeError) leaves a reader as :class:`DecodeError`: the one kind
of error a dataset may count as an unreadable video. A frame index out of range stays an
IndexError, because it is a bug in sampling, not a property of the file.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vbench.errors import VbenchError

DECODERS = ("pyav", "torchcodec", "decord")
FRAME_TEMPLATES = ("img_{:05d}.jpg", "{:05d}.jpg", "{:06d}.jpg", "image_{:05d}.jpg", "frame_{:05d}.jpg",
                   "img_{:05d}.png", "{:05d}.png", "{:06d}.png", "frame{:06d}.jpg")


SEEK_SKIP = 8  # frames a seek must skip to be worth it: a seek costs a few frames' decoding (a round guess)


class DecodeError(RuntimeError):
    """A video that cannot be read; the message is a short reason for reports."""


class PyAVReader:
    """Exact frame access through PyAV (see the module docstring)."""

    def __init__(self, path: str):
        import av

        self.path = path
        try:
            empty = os.path.getsize(path) == 0
        except OSError as error:
            raise DecodeError(f"cannot open: {_reason(error)}") from None
        if empty:
            raise DecodeError("empty file")
        try:
            self._container = av.open(path, metadata_errors="ignore")
        except Exception as error:  # noqa: BLE001  (av raises many kinds)
            raise DecodeError(f"cannot open: {_reason(error)}") from None
        if not self._container.streams.video:
            self.close()
            raise DecodeError("no video stream")
        self._stream = self._container.streams.video[0]
        self._scan()

    def _scan(self) -> None:
        stamps, keys, self._exact = [], [], True
        try:
            for packet in self._container.demux(self._stream):
                if packet.size == 0:
                    continue
                stamp = packet.pts if packet.pts is not None else packet.dts
                if stamp is None:
                    self._exact = False
                    stamps.append(len(stamps))
                    continue
                stamps.append(stamp)
                if packet.is_keyframe:
                    keys.append(stamp)
        except Exception as error:  # noqa: BLE001
            if not stamps:
                raise DecodeError(f"cannot demux: {_reason(error)}") from None
            self._exact = False  # truncated file: keep what was read, decode in order
        self._pts = sorted(set(stamps))
        self._keys = sorted(set(keys))
        if len(self._pts) != len(stamps) or not self._keys or self._keys[0] > self._pts[0]:
            self._exact = False
        self.num_frames = len(self._pts)
        if self.num_frames == 0:
            raise DecodeError("no frames")

    def get(self, indices: Sequence[int]) -> np.ndarray:
        wanted = sorted(set(int(i) for i in indices))
        check_range(wanted, self.num_frames)
        frames = self._by_seeking(wanted) if self._exact else None
        if frames is None:
            frames = self._in_order(wanted)
        return stack_frames([frames[int(i)] for i in indices])

    def _by_seeking(self, wanted: list[int]) -> dict[int, np.ndarray] | None:
        frames: dict[int, np.ndarray] = {}
        decoded, last = None, None
        if not self._stream.codec_context.is_open:
            # frame threads refill their pipeline after every seek: use them only to decode straight through
            self._stream.thread_type = "SLICE" if self._seeks(wanted) else "AUTO"
        try:
            for index in wanted:
                target = self._pts[index]
                key = self._keys[bisect.bisect_right(self._keys, target) - 1]
                if decoded is None or last is None or last >= target or self._worth_seeking(last, key):
                    self._container.seek(key, stream=self._stream, backward=True, any_frame=False)
                    decoded, last = self._container.decode(self._stream), None
                for frame in decoded:
                    if frame.pts is None or (last is None and frame.pts > target):
                        return None  # no timestamps, or the seek landed past the target
                    last = frame.pts
                    if frame.pts == target:
                        frames[index] = frame.to_ndarray(format="rgb24")
                        break
                    if frame.pts > target:
                        return None  # the scan's timestamp was never decoded
                else:
                    return None
        except Exception:  # noqa: BLE001  (a broken packet: retry in order, which reports it)
            return None
        return frames

    def _seeks(self, wanted: list[int]) -> int:
        """Seeks after the first that reading ``wanted`` will make."""
        keys = [self._keys[bisect.bisect_right(self._keys, self._pts[i]) - 1] for i in wanted]
        return sum(self._worth_seeking(self._pts[a], key) for a, key in zip(wanted, keys[1:]))

    def _worth_seeking(self, last: int, key: int) -> bool:
        """Seek when it skips at least SEEK_SKIP frames; shorter gaps decode faster forward."""
        return key > last and bisect.bisect_left(self._pts, key) - bisect.bisect_left(self._pts, last) >= SEEK_SKIP

    def _in_order(self, wanted: list[int]) -> dict[int, np.ndarray]:
        import av

        self.close()
        frames: dict[int, np.ndarray] = {}
        remaining, position, last_frame = set(wanted), 0, None
        try:
            self._container = av.open(self.path, metadata_errors="ignore")
            stream = self._stream = self._container.streams.video[0]
            stream.thread_type = "AUTO"  # frame threads pay off when decoding straight through
            for frame in self._container.decode(stream):
                if position in remaining:
                    frames[position] = frame.to_ndarray(format="rgb24")
                    remaining.discard(position)
                    if not remaining:
                        break
                last_frame, position = frame, position + 1
        except Exception as error:  # noqa: BLE001
            if position == 0:
                raise DecodeError(f"cannot decode: {_reason(error)}") from None
        if remaining:  # fewer decodable frames than packets: the last one stands in
            if last_frame is None and not frames:
                raise DecodeError("no decodable frame")
            filler = next(iter(frames.values()), None)
            if last_frame is not None:
                try:
                    filler = last_frame.to_ndarray(format="rgb24")
                except Exception as error:  # noqa: BLE001  (av raises many kinds)
                    raise DecodeError(f"cannot decode: {_reason(error)}") from None
            for index in remaining:
                frames[index] = filler
        return frames

    def close(self) -> None:
        """Close the file and drop the stream: a closed reader that an exception's traceback keeps
        alive must not hold a decoder with threads, which a forked DataLoader worker cannot free."""
        container = getattr(self, "_container", None)
        if container is not None:
            container.close()
            self._container = None
        self._stream = None


class _LibraryReader:
    """A reader over an optional decoding library: install hint if absent, DecodeError if unreadable."""

    package = ""

    def __init__(self, path: str):
        try:
            self._handle, self.num_frames = self._open(path)
        except ImportError:
            raise VbenchError(f"--decoder {self.package} needs {self.package}: pip install {self.package}") from None
        except Exception as error:  # noqa: BLE001  (each library raises its own kinds)
            raise DecodeError(f"cannot open: {_reason(error)}") from None
        if not self.num_frames:
            raise DecodeError("no frames")

    def _open(self, path: str) -> tuple[object, int]:
        raise NotImplementedError

    def get(self, indices: Sequence[int]) -> np.ndarray:
        check_range(indices, self.num_frames)
        try:
            return self._get(indices)
        except Exception as error:  # noqa: BLE001  (each library raises its own kinds)
            raise DecodeError(f"cannot decode: {_reason(error)}") from None

    def _get(self, indices: Sequence[int]) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        self._handle = None


class TorchCodecReader(_LibraryReader):
    package = "torchcodec"

    def _open(self, path: str) -> tuple[object, int]:
        from torchcodec.decoders import VideoDecoder

        decoder = VideoDecoder(path, seek_mode="exact", dimension_order="NHWC")
        return decoder, int(decoder.metadata.num_frames or 0)

    def _get(self, indices: Sequence[int]) -> np.ndarray:
        return self._handle.get_frames_at(indices=[int(i) for i in indices]).data.numpy()


class DecordReader(_LibraryReader):
    package = "decord"

    def _open(self, path: str) -> tuple[object, int]:
        import decord

        reader = decord.VideoReader(path, num_threads=1)
        return reader, len(reader)

    def _get(self, indices: Sequence[int]) -> np.ndarray:
        return self._handle.get_batch([int(i) for i in indices]).asnumpy()


class FrameFilesReader:
    """Frames stored as image files: a folder with numbered names, or an explicit list."""

    def __init__(self, files: Sequence[str]):
        self._files = list(files)
        self.num_frames = len(self._files)
        if self.num_frames == 0:
            raise DecodeError("no frames")

    @classmethod
    def from_folder(cls, folder: str, template: str | None = None, num_frames: int | None = None) -> FrameFilesReader:
        try:
            names = set(os.listdir(folder))
        except OSError as error:
            raise DecodeError(f"cannot list folder: {error.strerror or error}") from None
        template, start = frame_template(names, template)
        if template is None:
            raise DecodeError(f"no frames named like {', '.join(FRAME_TEMPLATES[:3])}")
        count = num_frames
        if count is None:
            prefix, suffix = template.split("{")[0], template.rsplit("}", 1)[-1]
            count = sum(1 for n in names if n.startswith(prefix) and n.endswith(suffix))
        return cls([os.path.join(folder, template.format(start + i)) for i in range(count)])

    def get(self, indices: Sequence[int]) -> np.ndarray:
        from PIL import Image

        check_range(indices, self.num_frames)
        cache: dict[int, np.ndarray] = {}
        for index in set(int(i) for i in indices):
            try:
                with Image.open(self._files[index]) as image:
                    cache[index] = np.asarray(image.convert("RGB"))
            except (OSError, ValueError) as error:
                raise DecodeError(f"cannot read {os.path.basename(self._files[index])}: {_reason(error)}") from None
        return stack_frames([cache[int(i)] for i in indices])

    def close(self) -> None:
        pass


def check_range(indices: Sequence[int], num_frames: int) -> None:
    """IndexError for a frame index outside the video: the sampler's bug, never the file's."""
    bad = [int(i) for i in indices if not 0 <= int(i) < num_frames]
    if bad:
        raise IndexError(f"frame {bad[0]} of a {num_frames}-frame video")


def stack_frames(frames: list[np.ndarray]) -> np.ndarray:
    """One array; a video whose frames change size mid-stream is unreadable, not a crash."""
    if any(f.shape != frames[0].shape for f in frames):
        raise DecodeError("frames of different sizes")
    return np.stack(frames)


def frame_template(names: set[str], template: str | None = None) -> tuple[str | None, int]:
    """(template, first number) of a frame folder's listing: 0-based only if frame 0 exists."""
    for candidate in (template,) if template else FRAME_TEMPLATES:
        for start in (0, 1):
            if candidate.format(start) in names:
                return candidate, start
    return (template, 1) if template else (None, 1)


def open_reader(record, decoder: str = "pyav"):
    """A reader for one ``VideoRecord``; DecodeError when it cannot be read."""
    if record.frame_files is not None:
        return FrameFilesReader(record.frame_files)
    if record.frame_template is not None or os.path.isdir(record.path):
        return FrameFilesReader.from_folder(record.path, record.frame_template, record.num_frames)
    if not os.path.exists(record.path):
        raise DecodeError("file not found")
    if decoder == "pyav":
        return PyAVReader(record.path)
    if decoder == "torchcodec":
        return TorchCodecReader(record.path)
    if decoder == "decord":
        return DecordReader(record.path)
    raise VbenchError(f"unknown decoder '{decoder}'; choose one of {', '.join(DECODERS)}")


def check_decoder(decoder: str) -> None:
    """Fail early, in one line, for a decoder that is unknown or not installed."""
    if decoder not in DECODERS:
        raise VbenchError(f"unknown decoder '{decoder}'; choose one of {', '.join(DECODERS)}")
    if decoder != "pyav":
        import importlib.util

        if importlib.util.find_spec(decoder) is None:
            raise VbenchError(f"--decoder {decoder} needs the {decoder} package: pip install {decoder}")


def _reason(error: BaseException) -> str:
    """A short reason without the file's path (the report names the file)."""
    text = getattr(error, "strerror", None) or str(error).strip() or type(error).__name__
    return str(text).splitlines()[0][:120]


def probe(path: str | Path) -> int:
    """Number of frames of a video file (PyAV packet scan)."""
    reader = PyAVReader(str(path))
    reader.close()
    return reader.num_frames
