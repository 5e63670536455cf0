"""Classification metrics over videos: view fusion, top-k, mean class accuracy, confusion.

Every function takes plain tensors, so that accuracy can be recomputed from stored
per-video, per-view scores without running a model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

FUSIONS = ("softmax", "score")


def fuse_views(view_scores: torch.Tensor, fusion: str = "softmax") -> torch.Tensor:
    """(N, V, K) scores of V views per video -> (N, K) video scores.

    ``softmax``: the mean of the views' softmax probabilities (the default of most test
    scripts: TSM's, mmaction2's ``prob``); ``score``: the mean of the raw scores (TSN's
    original test, mmaction2's ``score``).
    """
    if view_scores.dim() != 3:
        raise ValueError(f"expected (videos, views, classes) scores, got shape {tuple(view_scores.shape)}")
    if fusion == "softmax":
        return view_scores.float().softmax(dim=-1).mean(dim=1)
    if fusion == "score":
        return view_scores.float().mean(dim=1)
    raise ValueError(f"unknown view fusion '{fusion}': use {' or '.join(FUSIONS)}")


def topk_correct(scores: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean per video: is the label among the k highest scores?

    Ties go to the lower class index (a stable sort), so a result never depends on the
    backend's ``topk``; a video whose scores are all equal is predicted as class 0.
    """
    k = min(k, scores.shape[1])
    top = _stable_topk(scores, k)
    return (top == labels.view(-1, 1)).any(dim=1)


def _stable_topk(scores: torch.Tensor, k: int) -> torch.Tensor:
    order = torch.argsort(scores.double(), dim=1, descending=True, stable=True)
    return order[:, :k]


def topk_accuracy(scores: torch.Tensor, labels: torch.Tensor, k: int = 1) -> float:
    """Percentage of videos whose label is among the top k scores."""
    if len(labels) == 0:
        return float("nan")
    return 100.0 * topk_correct(scores, labels, k).double().mean().item()


def confusion_matrix(predictions: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(K, K) counts: row = true class, column = predicted class."""
    flat = labels.long() * num_classes + predictions.long()
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes)


def per_class_accuracy(confusion: torch.Tensor) -> torch.Tensor:
    """Top-1 recall of every class (NaN for a class with no test video)."""
    totals = confusion.sum(dim=1).double()
    hits = confusion.diagonal().double()
    return torch.where(totals > 0, 100.0 * hits / totals.clamp(min=1), torch.full_like(totals, float("nan")))


def mean_class_accuracy(confusion: torch.Tensor) -> float:
    """Mean of per-class top-1 accuracy over the classes that have test videos."""
    accuracy = per_class_accuracy(confusion)
    present = ~torch.isnan(accuracy)
    return accuracy[present].mean().item() if present.any() else float("nan")


@dataclass
class ClassificationResult:
    top1: float
    top5: float
    mean_class: float
    videos: int
    confusion: torch.Tensor
    per_class: torch.Tensor


def classification_result(video_scores: torch.Tensor, labels: torch.Tensor, num_classes: int) -> ClassificationResult:
    """Top-1, top-5, mean class accuracy and the confusion matrix of fused video scores."""
    labels = labels.long()
    predictions = _stable_topk(video_scores, 1)[:, 0] if len(labels) else labels
    confusion = confusion_matrix(predictions, labels, num_classes)
    return ClassificationResult(
        top1=topk_accuracy(video_scores, labels, 1),
        top5=topk_accuracy(video_scores, labels, 5),
        mean_class=mean_class_accuracy(confusion),
        videos=len(labels),
        confusion=confusion,
        per_class=per_class_accuracy(confusion),
    )
