"""A train record: what it holds, and how train records read as a Markdown table."""

from __future__ import annotations

from pathlib import Path


def train_record(settings, info, run_id: str, history: list[dict], val_videos: int, train_videos: int,
                 seconds: float, weights: Path, device, device_name: str, world_size: int, notes: list[str],
                 stamp: dict) -> dict:
    """The record of a finished run: its setting, the last epoch's accuracy (1 clip x 1 centre
    crop on the test split) with the best epoch's beside it, the history, and ``stamp``
    (provenance of the run's start, finish time, fingerprint)."""
    last = history[-1]
    return {
        "run_id": run_id, "model": info.name, "method": info.method, "dataset": settings.dataset,
        "split": settings.split, "dataset_options": settings.dataset_options, "subset": "test",
        "frames": settings.frames,
        "size": f"{settings.size}x{settings.size}", "views": "1x1", "clips": 1, "crops": 1, "fusion": "softmax",
        "top1": last["top1"], "top5": last["top5"], "mean_class": last["mean_class"],
        "per_class_top1": last["per_class_top1"],
        "best_top1": max((h["top1"] for h in history if h["top1"] is not None), default=None),
        "epochs": settings.epochs, "batch_size": settings.batch_size, "seed": settings.seed,
        "recipe": settings.recipe.as_dict(), "init": settings.init, "dreal": settings.dreal,
        "reconstruction": info.reconstruction, "history": history, "checkpoint": str(weights),
        "model_source": info.source,
        "videos": val_videos, "val_skipped": last.get("val_skipped"),
        "train_videos": train_videos, "time_s": round(seconds, 2),
        "device": device.type, "device_name": device_name, "precision": settings.precision,
        "world_size": world_size, "task": info.task, "status": "ok", "source": "vbench train",
        "notes": notes, **stamp,
    }


def train_markdown(records: list[dict]) -> str:
    columns = ["Model", "Dataset", "Frames", "Size", "Epochs", "Batch", "Seed", "DREAL", "Top-1", "Top-5",
               "Best top-1", "Time (s)"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in records:
        name = r["model"] + (" [reconstruction]" if r.get("reconstruction") else "") + ("*" if r.get("dirty") else "")
        cells = [name, r["dataset"], r["frames"], r["size"], r["epochs"], r["batch_size"], r["seed"],
                 "yes (reconstruction)" if r.get("dreal") else "no", _pct(r.get("top1")), _pct(r.get("top5")),
                 _pct(r.get("best_top1")), r.get("time_s")]
        lines.append("| " + " | ".join("-" if c is None else str(c) for c in cells) + " |")
    legend = "\n* trained from a source tree with uncommitted changes (dirty).\n" if any(r.get("dirty") for r in records) \
        else ""
    return "\n".join(lines) + ("\n\nvbench's one recipe for every model (vbench/training/recipe.py); accuracy "
                               "on the test split, 1 clip x 1 centre crop, after the last epoch.\n") + legend


def _pct(value) -> str | None:
    return None if value is None else f"{value:.2f}"
