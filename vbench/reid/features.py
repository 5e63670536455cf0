"""Per-tracklet features: test clips through a model, averaged, kept in a file to re-score.

``extract_features`` runs a model on every test clip of every tracklet (clips from
``sampling.clip_indices``), batches clips across tracklets and averages each tracklet's
clip features. ``FeatureStore`` holds the features with what scoring needs (person ids,
cameras, the query and gallery rows of every trial) and what produced them; it saves to
one ``.npz`` file (no pickled objects) that ``vbench.reid.rescore`` reads back, so a
protocol or distance can be changed without running the model again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from vbench.errors import VbenchError
from vbench.reid.sampling import clip_indices
from vbench.reid.tracklets import ReidDataset, Tracklet

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class FrameChecker:
    """Whether frame files exist, listing each folder once (MARS has ~1M frames)."""

    def __init__(self):
        self._listings: dict[str, set[str]] = {}

    def exists(self, path: str) -> bool:
        folder, name = os.path.split(path)
        if folder not in self._listings:
            try:
                self._listings[folder] = set(os.listdir(folder))
            except OSError:
                self._listings[folder] = set()
        return name in self._listings[folder]

    def present(self, tracklet: Tracklet) -> tuple[str, ...]:
        return tuple(f for f in tracklet.frames if self.exists(f))


def load_frames(paths: Sequence[str], size: tuple[int, int] = (256, 128),
                mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD) -> torch.Tensor:
    """Images -> normalised clip (3, T, H, W): RGB, bilinear resize to ``size`` (H, W)."""
    from PIL import Image

    frames = []
    for path in paths:
        try:
            with Image.open(path) as image:
                image = image.convert("RGB").resize((size[1], size[0]), Image.Resampling.BILINEAR)
                frames.append(torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()))
        except OSError as error:
            raise VbenchError(f"cannot read frame {path}: {error}") from None
    clip = torch.stack(frames).permute(3, 0, 1, 2).float().div_(255)  # (3, T, H, W)
    mean_t = torch.tensor(mean).view(3, 1, 1, 1)
    std_t = torch.tensor(std).view(3, 1, 1, 1)
    return clip.sub_(mean_t).div_(std_t)


class ClipDataset(torch.utils.data.Dataset):
    """Every test clip of a list of tracklets: (clip (3, T, H, W), tracklet row)."""

    def __init__(self, tracklets: Sequence[Tracklet], sampling: str, seq_len: int, size: tuple[int, int],
                 loader: Callable[[Sequence[str], tuple[int, int]], torch.Tensor] = load_frames):
        self.loader, self.size = loader, size
        self.clips: list[tuple[tuple[str, ...], int]] = []
        self.missing_frames = 0
        checker = FrameChecker()
        for row, tracklet in enumerate(tracklets):
            frames = checker.present(tracklet)
            self.missing_frames += len(tracklet.frames) - len(frames)
            if not frames:
                raise VbenchError(f"tracklet {tracklet.key} (person {tracklet.pid}, camera {tracklet.camid}) "
                                  "has no frame on disk: check the dataset with `vbench data check`")
            for clip in clip_indices(len(frames), sampling, seq_len):
                self.clips.append((tuple(frames[i] for i in clip), row))

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int):
        paths, row = self.clips[index]
        return self.loader(paths, self.size), row


def _features_of(output) -> torch.Tensor:
    """A model's eval output as features: the tensor, or the last tensor of a tuple."""
    if isinstance(output, (tuple, list)):
        output = output[-1]
    return output.flatten(1)


@torch.no_grad()
def extract_features(model: torch.nn.Module, tracklets: Sequence[Tracklet], *, sampling: str = "dense",
                     seq_len: int = 8, size: tuple[int, int] = (256, 128), batch_size: int = 8,
                     device: str | torch.device = "cpu", num_workers: int = 0,
                     loader: Callable[[Sequence[str], tuple[int, int]], torch.Tensor] = load_frames,
                     progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(len(tracklets), D) float32: the mean of each tracklet's clip features.

    The model runs in eval mode (its mode is restored after) and must already sit on
    ``device``; clips are batched across tracklets, ``batch_size`` clips a forward pass.
    """
    clips = ClipDataset(tracklets, sampling, seq_len, size, loader)
    batches = torch.utils.data.DataLoader(clips, batch_size=batch_size, num_workers=num_workers)
    was_training = model.training
    model.eval()
    sums: torch.Tensor | None = None
    counts = torch.zeros(len(tracklets), dtype=torch.float64)
    done = 0
    try:
        for clip, rows in batches:
            features = _features_of(model(clip.to(device))).double().cpu()
            if sums is None:
                sums = torch.zeros(len(tracklets), features.shape[1], dtype=torch.float64)
            sums.index_add_(0, rows, features)
            counts.index_add_(0, rows, torch.ones(len(rows), dtype=torch.float64))
            done += len(rows)
            if progress:
                progress(done, len(clips))
    finally:
        model.train(was_training)
    if sums is None:
        raise VbenchError("no tracklet to extract features from")
    return (sums / counts[:, None]).float().numpy()


@dataclass
class FeatureStore:
    """Per-tracklet features and everything scoring needs (see module docstring)."""

    features: np.ndarray
    keys: list[str]
    pids: np.ndarray
    camids: np.ndarray
    trials: list[dict[str, np.ndarray]]  # per trial: "query" and "gallery" rows of ``features``
    meta: dict = field(default_factory=dict)

    @classmethod
    def for_trials(cls, datasets: Sequence[ReidDataset]) -> tuple[FeatureStore, list[Tracklet]]:
        """An empty store over the union of the trials' test tracklets, and those tracklets."""
        rows: dict[str, int] = {}
        tracklets: list[Tracklet] = []
        trials = []
        for dataset in datasets:
            index = []
            for tracklet in dataset.test:
                if tracklet.key not in rows:
                    rows[tracklet.key] = len(tracklets)
                    tracklets.append(tracklet)
                index.append(rows[tracklet.key])
            index = np.asarray(index, dtype=np.int64)
            trials.append({"trial": np.int64(dataset.trial), "query": index[dataset.query],
                           "gallery": index[dataset.gallery]})
        first = datasets[0]
        meta = {"dataset": first.name, "root": str(first.root), "protocols": list(first.protocols),
                "num_trials": first.num_trials}
        store = cls(np.zeros((len(tracklets), 0), dtype=np.float32), [t.key for t in tracklets],
                    np.array([t.pid for t in tracklets], dtype=np.int64),
                    np.array([t.camid for t in tracklets], dtype=np.int64), trials, meta)
        return store, tracklets

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"features": self.features, "keys": np.array(self.keys), "pids": self.pids, "camids": self.camids,
                  "meta": np.array(json.dumps(self.meta))}
        for k, trial in enumerate(self.trials):
            for name, value in trial.items():
                arrays[f"trial{k}_{name}"] = np.asarray(value)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> FeatureStore:
        path = Path(path)
        if not path.is_file():
            raise VbenchError(f"feature file not found: {path}")
        try:
            data = np.load(path, allow_pickle=False)
            meta = json.loads(str(data["meta"]))
            trials, k = [], 0
            while f"trial{k}_query" in data:
                trials.append({name: data[f"trial{k}_{name}"] for name in ("trial", "query", "gallery")})
                k += 1
            return cls(data["features"], [str(s) for s in data["keys"]], data["pids"], data["camids"], trials, meta)
        except (KeyError, ValueError, OSError) as error:
            raise VbenchError(f"{path} is not a vbench re-id feature file: {error}") from None
