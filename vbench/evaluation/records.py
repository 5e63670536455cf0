"""The eval record: what one ``vbench eval`` run measured, and what produced it.

Records live in ``<out>/eval.json`` (and ``.csv``, ``.md``), one per run, keyed by
``run_id`` (a hash of everything that defines the run: model, dataset, split, views,
checkpoint content...). ``vbench report`` reads them; a run's per-video scores, per-class
accuracy and confusion matrix sit in ``<out>/eval/<run_id>/``.
"""

from __future__ import annotations

EVAL_RECORD_KEY = ("run_id",)

# Fields of an eval record, in the order tables show them.
EVAL_FIELDS = (
    "run_id", "model", "method", "dataset", "split", "subset", "frames", "size", "clips", "crops", "views",
    "protocol", "fusion", "checkpoint", "checkpoint_sha256", "top1", "top5", "mean_class", "videos",
    "skipped", "skipped_examples", "time_s", "clips_per_s", "device", "device_name", "precision",
    "world_size", "task", "status", "notes",
)


def eval_markdown(records: list[dict]) -> str:
    columns = ["Model", "Dataset", "Split", "Frames", "Views", "Top-1", "Top-5", "Mean class", "Videos",
               "Skipped", "Checkpoint"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in records:
        cells = [r.get("model"), r.get("dataset"), r.get("split"), r.get("frames"), r.get("views"),
                 _pct(r.get("top1")), _pct(r.get("top5")), _pct(r.get("mean_class")), r.get("videos"),
                 r.get("skipped"), (r.get("checkpoint_sha256") or "none")]
        lines.append("| " + " | ".join("-" if c is None else str(c) for c in cells) + " |")
    caption = ("Accuracy in %, fused over the views (clips x crops) of each video; see each record's fusion, "
               "protocol and checkpoint hash in eval.json.")
    return "\n".join(lines) + "\n\n" + caption + "\n"


def _pct(value) -> str | None:
    return None if value is None else f"{value:.2f}"
