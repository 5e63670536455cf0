"""The eval record: what one ``vbench eval`` run measured, and what produced it.

Records live in ``<out>/eval.json`` (and ``.csv``, ``.md``), one per run, keyed by
``run_id`` (a hash of everything that defines the run: model, dataset, split, views,
checkpoint content...). ``weights`` says whether a checkpoint was loaded ("checkpoint") or
the weights are random ("random", drawn with ``weights_seed``): a random-weights figure
is not the model's accuracy, and every table says so. ``vbench report`` reads them; a run's per-video scores, per-class
accuracy and confusion matrix sit in ``<out>/eval/<run_id>/``.
"""

from __future__ import annotations

EVAL_RECORD_KEY = ("run_id",)

# Fields of an eval record, in the order tables show them.
EVAL_FIELDS = (
    "run_id", "model", "method", "dataset", "split", "subset", "frames", "size", "clips", "crops", "views",
    "protocol", "fusion", "checkpoint", "checkpoint_sha256", "weights", "weights_seed", "top1", "top5", "mean_class", "videos",
    "skipped", "skipped_examples", "max_unreadable", "time_s", "clips_per_s", "device", "device_name", "precision",
    "world_size", "task", "status", "notes",
)


def eval_markdown(records: list[dict]) -> str:
    columns = ["Model", "Dataset", "Split", "Frames", "Views", "Top-1", "Top-5", "Mean class", "Videos",
               "Skipped", "Weights"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in records:
        cells = [r.get("model"), r.get("dataset"), r.get("split"), r.get("frames"), r.get("views"),
                 _pct(r.get("top1")), _pct(r.get("top5")), _pct(r.get("mean_class")), r.get("videos"),
                 r.get("skipped"), weights_cell(r)]
        lines.append("| " + " | ".join("-" if c is None else str(c) for c in cells) + " |")
    caption = ("Accuracy in %, fused over the views (clips x crops) of each video; see each record's fusion, "
               "protocol and checkpoint hash in eval.json.")
    if any(r.get("weights") == "random" for r in records):
        caption += "\n\n" + RANDOM_WEIGHTS_LINE
    return "\n".join(lines) + "\n\n" + caption + "\n"


RANDOM_WEIGHTS_LINE = ("Rows with random weights: no checkpoint was loaded, so their figures are not the model's "
                       "accuracy.")


def weights_cell(record: dict) -> str:
    """``random weights (seed 0)`` for a run without a checkpoint, else the checkpoint's hash."""
    if record.get("weights") == "random":
        return f"random weights (seed {record.get('weights_seed')})"
    return record.get("checkpoint_sha256") or "none"


def _pct(value) -> str | None:
    return None if value is None else f"{value:.2f}"
