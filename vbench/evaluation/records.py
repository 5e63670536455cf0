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

PROVENANCE_FIELDS = ("git_rev", "dirty", "time", "resumed_at", "torch", "torchvision", "vbench", "python",
                     "cpu_count", "loadavg_1m")


def eval_fingerprint(model, settings_id: str) -> dict:
    """What an eval result depends on: the model's code and arguments, vbench's evaluation
    and data code, and the run's settings (``settings_id`` hashes model, checkpoint, data,
    views, precision)."""
    from vbench.fingerprint import code_sources, digest, fingerprint, model_parts

    return fingerprint({**model_parts(model), "evaluation_code": digest(code_sources("evaluation")),
                        "data_code": digest(code_sources("data")), "settings": settings_id})


def rescored(previous: dict) -> dict:
    """Fields a re-scored record keeps from the run that computed the scores, plus when."""
    from vbench.environment import now

    kept = {k: previous[k] for k in (*PROVENANCE_FIELDS, "fingerprint", "fingerprint_parts") if k in previous}
    return {**kept, "rescored_at": now()}

# Fields of an eval record, in the order tables show them.
EVAL_FIELDS = (
    "run_id", "model", "method", "dataset", "split", "subset", "frames", "size", "clips", "crops", "views",
    "protocol", "fusion", "checkpoint", "checkpoint_sha256", "weights", "weights_seed", "weights_name",
    "top1", "expected_top1", "top1_diff", "expected_source", "expected_note", "top5", "mean_class", "videos",
    "skipped", "skipped_examples", "max_unreadable", "time_s", "clips_per_s", "device", "device_name", "precision",
    "world_size", "task", "status", "notes",
)


def eval_markdown(records: list[dict]) -> str:
    published = any("weights_name" in r for r in records)
    columns = ["Model", "Dataset", "Split", "Frames", "Views", "Top-1",
               *(["Published top-1", "Diff"] if published else []), "Top-5", "Mean class", "Videos", "Skipped",
               "Weights"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in records:
        expected = [_pct(r.get("expected_top1")), _signed(r.get("top1_diff"))] if published else []
        cells = [r.get("model"), r.get("dataset"), r.get("split"), r.get("frames"), r.get("views"),
                 _pct(r.get("top1")), *expected, _pct(r.get("top5")), _pct(r.get("mean_class")), r.get("videos"),
                 r.get("skipped"), weights_cell(r)]
        lines.append("| " + " | ".join("-" if c is None else str(c) for c in cells) + " |")
    caption = ("Accuracy in %, fused over the views (clips x crops) of each video; see each record's fusion, "
               "protocol and checkpoint hash in eval.json.")
    if published:
        caption += (" Published top-1: the figure the weights' source reports for the same checkpoint, dataset and "
                    "views (its file in each record's expected_source); Diff = measured - published.")
    if any(r.get("weights") == "random" for r in records):
        caption += "\n\n" + RANDOM_WEIGHTS_LINE
    return "\n".join(lines) + "\n\n" + caption + "\n"


RANDOM_WEIGHTS_LINE = ("Rows with random weights: no checkpoint was loaded, so their figures are not the model's "
                       "accuracy.")


def weights_cell(record: dict) -> str:
    """``random weights (seed 0)`` for a run without a checkpoint, else the weights' name and the checkpoint's hash."""
    if record.get("weights") == "random":
        return f"random weights (seed {record.get('weights_seed')})"
    sha = record.get("checkpoint_sha256") or "none"
    return f"{record['weights_name']} ({sha})" if record.get("weights_name") else sha


def _signed(value) -> str | None:
    return None if value is None else f"{value:+.2f}"


def _pct(value) -> str | None:
    return None if value is None else f"{value:.2f}"
