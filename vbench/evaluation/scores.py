"""The per-video, per-view scores of one eval run, stored as they are made, fused once.

Scores are written in parts (one per gathered chunk, each atomic), so a killed run keeps
every finished chunk and ``--resume`` scores only the rest. A resumed part may repeat a
video: the last score of each video wins. ``fuse`` is the one place where the stored
views become video scores and accuracy, for the record, the per-class outputs and a
re-score with another fusion alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from vbench.errors import VbenchError
from vbench.evaluation.metrics import ClassificationResult, classification_result, fuse_views
from vbench.results import atomic_write_text
from vbench.runtime.storage import atomic_torch_save


@dataclass
class FusedScores:
    """The videos scored (in index order), the unreadable ones, and their fused result."""

    scored: list[dict]
    skipped: list[dict]
    video_scores: torch.Tensor | None  # (videos, classes); None when no video was scored
    result: ClassificationResult | None


class ScoreStore:
    """One run's folder of score parts, with the run's fingerprint and provenance (``run.json``)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def parts(self) -> list[Path]:
        return sorted(self.folder.glob("part-*.pt")) if self.folder.exists() else []

    def clear(self) -> None:
        for part in self.parts():
            part.unlink()

    def write(self, items: list[dict]) -> None:
        if not items:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_torch_save(items, self.folder / f"part-{len(self.parts()):05d}.pt")

    def read_run(self) -> dict | None:
        """The fingerprint and start provenance of the run whose scores these are."""
        path = self.folder / "run.json"
        return json.loads(path.read_text()) if path.exists() else None

    def write_run(self, run: dict) -> None:
        atomic_write_text(self.folder / "run.json", json.dumps(run, indent=1) + "\n")

    def load(self) -> list[dict]:
        """Every stored item, in the order written (a resumed video may appear twice)."""
        items = []
        for part in self.parts():
            items += torch.load(part, map_location="cpu", weights_only=True)
        return items

    def items(self) -> dict[int, dict]:
        """Each video's item by index: the last one written wins."""
        return {item["index"]: item for item in self.load()}

    def fuse(self, fusion: str, num_classes: int | None = None, expected: int | None = None) -> FusedScores:
        """The stored views fused into video scores and scored. ``expected``: the number of
        videos a finished run holds (fewer is an unfinished run); ``num_classes`` defaults to
        the scores' width."""
        items = self.items()
        if expected is not None and len(items) != expected:
            raise VbenchError(f"{expected - len(items)} videos of the split have no score in {self.folder}: "
                              "the run did not finish; run it again with --resume")
        ordered = [items[i] for i in sorted(items)]
        scored = [item for item in ordered if item["scores"] is not None]
        skipped = [item for item in ordered if item["scores"] is None]
        if not scored:
            return FusedScores(scored, skipped, None, None)
        video_scores = fuse_views(torch.stack([item["scores"] for item in scored]), fusion)
        labels = torch.tensor([item["label"] for item in scored])
        classes = num_classes if num_classes is not None else video_scores.shape[-1]
        return FusedScores(scored, skipped, video_scores, classification_result(video_scores, labels, classes))
