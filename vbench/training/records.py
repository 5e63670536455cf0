"""How train records read as a Markdown table."""

from __future__ import annotations


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
