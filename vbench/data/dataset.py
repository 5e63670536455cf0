"""One torch Dataset for every dataset: decode, sample, transform; skip only unreadable videos.

``build_dataset(name, root, ...)`` reads the split through the dataset's module and
wraps it in a :class:`VideoDataset`. An item is a dict: ``video`` float ``(V, 3, T, S, S)``
(V = clips x crops test views, 1 in training), ``label``, ``index``, ``id``. A video that
cannot be read (a DecodeError, or the file system's OSError while opening or reading it)
gives ``video=None`` and ``error`` (a short reason) instead of an exception, and
:func:`collate` drops such items while handing back their ids and errors, so an
evaluation loop counts and names what it skipped. Any other error (a bug in sampling or
the transforms) stops the run as a :class:`VideoFailure` naming the video: a skip would
shrink the test set silently and still print an accuracy.

Randomness in training comes from ``numpy.random.default_rng((seed, epoch, index))``: the
same seed, epoch and index give the same clip in any worker or process, which makes
runs repeatable under any DataLoader worker count or DistributedSampler.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vbench.data import transforms as T
from vbench.data.decoding import DecodeError, check_decoder, open_reader
from vbench.data.records import DatasetIndex, VideoRecord
from vbench.data.registry import index_dataset
from vbench.data.sampling import sample_clips
from vbench.data.views import ViewSpec, resolve_views
from vbench.errors import VbenchError

FLIPS = ("random", "none", "swap")


class VideoFailure(VbenchError):
    """A video that failed outside decoding: a bug to fix, not a file to skip.

    A DataLoader worker re-raises it in the main process as ``VideoFailure(text)`` where
    the text is the worker's whole traceback; the last line (our message) is recovered,
    so the CLI still prints one line, and the traceback is kept in ``detail`` for --debug.
    """

    def __init__(self, message: str):
        self.detail = None
        if message.startswith("Caught ") and "Traceback" in message:
            self.detail = message
            last = message.strip().splitlines()[-1]
            prefix = f"{type(self).__module__}.{type(self).__qualname__}: "
            message = last[len(prefix):] if last.startswith(prefix) else last
        super().__init__(message)


def failure_message(record: VideoRecord, error: BaseException) -> str:
    """The one line that names the video and the error, and says where the fault lies."""
    text = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
    what = f"{type(error).__name__}: {text}" if text else type(error).__name__
    if isinstance(error, MemoryError):
        return (f"video '{record.id}' ({record.path}) ran out of memory while loading ({what}): lower "
                "--batch-size, --workers or the views; rerun with --debug for the traceback")
    return (f"video '{record.id}' ({record.path}) failed outside decoding ({what}): this is a bug in sampling "
            "or transforms, not a corrupt file; rerun with --debug for the traceback")


class VideoDataset(torch.utils.data.Dataset):
    """Decoded, sampled and transformed videos of one split (see the module docstring)."""

    def __init__(self, index: DatasetIndex, views: ViewSpec | None = None, *, train: bool = False, seed: int = 0,
                 decoder: str = "pyav", train_crop: str = "multiscale", flip: str | None = None,
                 mean: tuple[float, ...] | None = None, std: tuple[float, ...] | None = None,
                 deferred_views: bool = False):
        check_decoder(decoder)
        if train_crop not in T.TRAIN_CROPS:
            raise VbenchError(f"unknown training crop '{train_crop}'; choose one of {', '.join(T.TRAIN_CROPS)}")
        flip = flip or index.default_flip
        if flip not in FLIPS:
            raise VbenchError(f"unknown flip '{flip}'; choose one of {', '.join(FLIPS)}")
        if flip == "swap" and not index.flip_pairs:
            raise VbenchError(f"{index.name} has no left/right class pairs to swap; use flip='random' or 'none'")
        self.index = index
        self.views = views or ViewSpec()
        self.train, self.seed, self.decoder = train, seed, decoder
        self.train_crop, self.flip = train_crop, flip
        self.epoch = 0
        # the input statistics the model's weights expect (ModelInfo.mean/std); ImageNet's by default
        self.mean, self.std = tuple(mean or T.IMAGENET_MEAN), tuple(std or T.IMAGENET_STD)
        # test views left uncut (T.DeferredViews) for the consumer to cut and normalise on its
        # device: the same values, the loader only decodes and resizes; training views are always float
        self.deferred_views = deferred_views
        self._mirror_label = self._flip_map() if flip == "swap" else None

    # what eval/train need to know
    @property
    def records(self) -> list[VideoRecord]:
        return self.index.records

    @property
    def classes(self) -> list[str]:
        return self.index.classes

    @property
    def num_classes(self) -> int:
        return len(self.index.classes)

    @property
    def missing(self) -> list[VideoRecord]:
        return self.index.missing

    @property
    def num_views(self) -> int:
        return 1 if self.train else self.views.views

    def __len__(self) -> int:
        return len(self.index.records)

    def set_epoch(self, epoch: int) -> None:
        """Change the training draws (call once per epoch, as with DistributedSampler)."""
        self.epoch = int(epoch)

    def list_hash(self) -> str:
        """SHA-1 (12 hex) of the sorted ids evaluated: tells two copies of a dataset apart."""
        ids = "\n".join(sorted(r.id for r in self.index.records))
        return hashlib.sha1(ids.encode()).hexdigest()[:12]

    def describe(self) -> dict[str, Any]:
        """What a result record should carry about the data it was computed on."""
        return {"dataset": self.index.name, "split": self.index.split, "subset": self.index.subset,
                "classes": self.num_classes, "videos": len(self), "missing": len(self.index.missing),
                "list_sha1": self.list_hash(), "views": self.views.as_dict(), "train": self.train,
                "flip": self.flip if self.train else None, "decoder": self.decoder,
                # named only where not ImageNet's, so that the ids of earlier runs stay valid
                **({"mean": self.mean, "std": self.std}
                   if (self.mean, self.std) != (T.IMAGENET_MEAN, T.IMAGENET_STD) else {})}

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng((self.seed, self.epoch, index))

    def clip_indices(self, index: int, num_frames: int, rng: np.random.Generator | None = None) -> list[list[int]]:
        """Frame indices (0-based) of each clip of item ``index`` for a ``num_frames`` video."""
        v = self.views
        if self.train and rng is None:
            rng = self.rng(index)
        return sample_clips(num_frames, frames=v.frames, clips=v.clips, sampling=v.sampling,
                            interval=v.frame_interval, train=self.train, rng=rng, span=v.dense_span)

    def __getitem__(self, index: int) -> dict[str, Any]:
        record = self.index.records[index]
        item: dict[str, Any] = {"video": None, "label": record.label, "index": index, "id": record.id}
        try:
            item["video"], item["label"] = self._load(index, record)
        except DecodeError as error:
            item["error"] = str(error)
        except VbenchError:
            raise
        except Exception as error:  # noqa: BLE001  (anything else is a bug: stop, naming the video)
            raise VideoFailure(failure_message(record, error)) from error
        return item

    def _load(self, index: int, record: VideoRecord) -> tuple[torch.Tensor, int]:
        rng = self.rng(index) if self.train else None  # one stream per item: frames, then mirror, then crop
        reader = self._open(record)
        try:
            clips = self.clip_indices(index, reader.num_frames, rng)
            unique = sorted({i for clip in clips for i in clip})
            frames = _read(reader, unique)
        finally:
            reader.close()
        row = {frame: position for position, frame in enumerate(unique)}
        rows = [[row[i] for i in clip] for clip in clips]
        v = self.views
        if not self.train:
            sizes = dict(short_side=v.short_side, crop_size=v.crop_size, crops=v.crops, three_crop=v.three_crop,
                         resize=v.resize)
            if self.deferred_views:
                return T.defer_test_views(frames, rows, **sizes), record.label
            return T.views_for_test(frames, rows, mean=self.mean, std=self.std, **sizes), record.label
        mirrored = self.flip != "none" and bool(rng.random() < 0.5)
        video = T.train_view(frames[rows[0]], short_side=v.short_side, crop_size=v.crop_size, crop=self.train_crop,
                             mirrored=mirrored, rng=rng, mean=self.mean, std=self.std)
        label = record.label
        if mirrored and self._mirror_label is not None:
            label = self._mirror_label.get(label, label)
        return video, label

    def _open(self, record: VideoRecord):
        """A reader; the file system's OSError about this video makes it unreadable (DecodeError)."""
        opener = self.index.open_reader or (lambda r: open_reader(r, self.decoder))
        try:
            return opener(record)
        except OSError as error:
            raise DecodeError(f"cannot open: {error.strerror or error}") from None

    def _flip_map(self) -> dict[int, int]:
        position = {name: i for i, name in enumerate(self.index.classes)}
        mapping = {}
        for a, b in self.index.flip_pairs:
            if a in position and b in position:
                mapping[position[a]], mapping[position[b]] = position[b], position[a]
        return mapping


def _read(reader, indices: list[int]):
    """The frames at ``indices``; an OSError while reading the file makes the video unreadable."""
    try:
        return reader.get(indices)
    except OSError as error:
        raise DecodeError(f"cannot read: {error.strerror or error}") from None


def collate(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Batch the readable items; ``skipped`` lists ``{index, id, error}`` of the others.

    ``video`` is ``(B, V, 3, T, S, S)``, a list of ``DeferredViews`` (a dataset with
    ``deferred_views``: videos of different sizes cannot be stacked before they are cut), or
    None when no item of the batch was readable.
    """
    kept = [item for item in items if item["video"] is not None]
    videos = [item["video"] for item in kept]
    return {
        "video": (videos if isinstance(videos[0], T.DeferredViews) else _stack(videos)) if kept else None,
        "label": torch.tensor([item["label"] for item in kept], dtype=torch.long),
        "index": torch.tensor([item["index"] for item in kept], dtype=torch.long),
        "id": [item["id"] for item in kept],
        "skipped": [{"index": item["index"], "id": item["id"], "error": item.get("error", "unreadable")}
                    for item in items if item["video"] is None],
    }


def _stack(videos: list[torch.Tensor]) -> torch.Tensor:
    """``torch.stack``; in a DataLoader worker straight into shared memory, as torch's own
    collate does, so the batch is not copied again (and page-faulted again) to reach the
    main process: at 30 views a video is 190 MB."""
    out = None
    if torch.utils.data.get_worker_info() is not None:
        storage = videos[0].untyped_storage()._new_shared(sum(v.numel() for v in videos) * videos[0].element_size())
        out = videos[0].new(storage).view(len(videos), *videos[0].shape)
    return torch.stack(videos, out=out)


def build_dataset(name: str, root: str | Path | None = None, split: int | None = None, subset: str = "test", *,
                  frames: int | None = None, views: ViewSpec | str | None = None, sampling: str | None = None,
                  train: bool | None = None, seed: int = 0, decoder: str = "pyav", train_crop: str = "multiscale",
                  flip: str | None = None, mean: tuple[float, ...] | None = None, std: tuple[float, ...] | None = None,
                  deferred_views: bool = False, **dataset_options: Any) -> VideoDataset:
    """A ready Dataset of split ``split`` (1-based; None = the first) and ``subset`` of ``name``.

    ``views``: a ViewSpec or a preset name (``vbench.data.VIEW_PRESETS``; default ``1x1``);
    ``frames`` and ``sampling`` override it. ``train`` defaults to ``subset == "train"``
    and gives one randomly cropped (``train_crop``), maybe mirrored view per video;
    ``flip`` is "random", "none" or "swap" (mirror and swap left/right classes; default:
    the dataset's usual recipe). ``mean``/``std``: the normalisation the model expects
    (``model_info(name).mean``; ImageNet's when None); ``deferred_views`` leaves test views
    uncut (``vbench.data.transforms.DeferredViews``), for the device to cut and normalise. Other keywords go to the dataset module
    (its options: ``dataset_info(name).options``).
    """
    spec = resolve_views(views, frames=frames, sampling=sampling)
    index = index_dataset(name, root, split, subset, views=spec, **dataset_options)
    return VideoDataset(index, spec, train=subset == "train" if train is None else train, seed=seed,
                        decoder=decoder, train_crop=train_crop, flip=flip, mean=mean, std=std,
                        deferred_views=deferred_views)

