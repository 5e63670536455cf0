"""``vbench.evaluate``: multi-view accuracy of a model on a dataset split.

Each video gives ``clips x crops`` views; the model scores every view and the per-view
scores of every video are stored (``<out>/eval/<scores_id>/part-*.pt``) as they are
computed, so that a run can resume after a kill and be re-scored with another fusion
without running the model again. Accuracy is always computed from the stored scores,
so a resumed run gives exactly the record an uninterrupted one would.

A video that cannot be read is skipped, counted and listed (``skipped.json``); when more
than ``max_unreadable`` of the videos are unreadable the run fails instead of recording
an accuracy of another test set. Without a checkpoint the weights are random (drawn from
``weights_seed``) and the record says so (``weights``: "random").

Under ``torchrun`` each process scores a disjoint share of the videos (no padding);
every ``chunk`` videos the shares are gathered on rank 0, which alone writes.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from vbench.data.unreadable import MAX_UNREADABLE, check_fraction, check_unreadable, write_listing
from vbench.environment import provenance, stamp_resume
from vbench.errors import VbenchError
from vbench.evaluation.records import EVAL_RECORD_KEY, eval_fingerprint, eval_markdown, rescored
from vbench.evaluation.scores import FusedScores, ScoreStore
from vbench.evaluation.scoring import score_views
from vbench.fingerprint import explain
from vbench.results import DEFAULT_OUT, RecordStore, atomic_write_text, to_csv
from vbench.runtime.distributed import (DistributedContext, ShardSampler, broadcast_from_main, gather_to_main,
                                        init_distributed, shutdown_distributed)

AVERAGES = ("softmax", "score")
_FUSION_OF_PRESET = {"mean-softmax": "softmax", "mean-logits": "score"}


@dataclass
class EvalSettings:
    """Everything that defines an evaluation run (``None``: the preset's or model's default)."""

    dataset: str
    model: str
    root: str | None = None
    split: int | None = None
    subset: str = "test"
    checkpoint: str | None = None
    non_strict: bool = False
    trusted: bool = False
    depth: int | None = None
    protocol: str | None = None
    frames: int | None = None
    clips: int | None = None
    crops: int | None = None
    short_side: int | None = None
    crop_size: int | None = None
    sampling: str | None = None
    interval: int | None = None
    average: str | None = None
    batch_size: int = 1
    workers: int = 2
    prefetch: int = 2  # batches each worker keeps ready: 4 was no faster (results/data-pipeline.md), twice the memory
    device: str = "auto"
    precision: str = "fp32"
    channels_last: bool = False
    decoder: str = "pyav"
    limit: int | None = None
    chunk: int = 64
    out: str = DEFAULT_OUT
    resume: bool = False
    max_unreadable: float = MAX_UNREADABLE  # fraction of the videos that may be skipped as unreadable
    weights_seed: int = 0  # torch seed of the weights a checkpoint does not set (all of them without one)
    dataset_options: dict[str, Any] = field(default_factory=dict)
    # re-id datasets (mars, ilidsvid, prid2011): ``protocol`` names the gallery convention
    distance: str = "euclidean"
    test_sampling: str = "dense"
    seq_len: int | None = None
    trial: int | None = None
    weights: str | None = None  # a published checkpoint by name (vbench.models.weights)


def _sha1(payload: Any, length: int = 12) -> str:
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:length]


def _load_weights(model: torch.nn.Module, settings: EvalSettings, num_classes: int, dataset: str) -> str | None:
    """Load the checkpoint (if any: exact, or partial with --non-strict) and return its content hash."""
    if not settings.checkpoint:
        return None
    from vbench.models.checkpoint import load_with_policy

    mode = "partial" if settings.non_strict else "exact"
    return load_with_policy(model, settings.checkpoint, mode, trusted=settings.trusted, classes_of=dataset).sha256


def _views(settings: EvalSettings):
    from vbench.data import resolve_views

    return resolve_views(settings.protocol, frames=settings.frames, clips=settings.clips, crops=settings.crops,
                         short_side=settings.short_side, crop_size=settings.crop_size, sampling=settings.sampling,
                         interval=settings.interval)


def _fusion(settings: EvalSettings, views) -> str:
    if settings.average is not None:
        if settings.average not in AVERAGES:
            raise VbenchError(f"unknown --average '{settings.average}': use softmax or score")
        return settings.average
    if settings.protocol:  # a paper protocol fixes its fusion
        return _FUSION_OF_PRESET.get(views.fusion, "softmax")
    return "softmax"


def _start_or_resume(store: ScoreStore, wanted: dict, resume: bool, notes: list[str],
                     on_note: Callable[[str], None] | None) -> tuple[set[int], dict]:
    """Indices already scored and the run's provenance: the stored run's when resuming a
    run of the same fingerprint, a new one otherwise (the stored scores are cleared, and
    the reason noted when there were any)."""
    started = store.read_run() if resume else None
    if started is not None and explain(started, wanted) is None:
        return {item["index"] for item in store.load()}, stamp_resume(started["provenance"])
    if resume and store.parts():
        note = f"the stored scores in {store.folder} are not resumed, as {explain(started, wanted)}"
        notes.append(note)
        if on_note:
            on_note(note)
    store.clear()
    run = {**wanted, "provenance": provenance()}
    store.write_run(run)
    return set(), run["provenance"]


def evaluate(settings: EvalSettings, *, on_progress: Callable[[int, int, float], None] | None = None,
             on_note: Callable[[str], None] | None = None) -> dict | None:
    """Run the evaluation; returns the record on rank 0 (None on other ranks).

    ``on_progress(done, total, views_per_second)`` is called on rank 0 after every batch.
    A resumed run keeps the provenance of its start while its fingerprint (model code and
    arguments, evaluation and data code, settings) is unchanged, and starts over otherwise,
    telling ``on_note`` why.
    """
    from vbench.data import build_dataset
    from vbench.evaluation.reid_eval import evaluate_reid, is_reid_dataset
    from vbench.models import create_model, model_info
    from vbench.models.registry import resolve_depth
    from vbench.runtime.device import device_name, resolve_device, resolve_precision

    entry = None
    if settings.weights:
        from vbench.evaluation.published import apply_weights

        settings, entry = apply_weights(settings)
    if is_reid_dataset(settings.dataset):
        return evaluate_reid(settings, on_progress)
    device, device_note = resolve_device(settings.device)
    dtype = resolve_precision(settings.precision)
    if settings.batch_size < 1 or settings.chunk < 1:
        raise VbenchError("--batch-size must be at least 1")
    if settings.workers < 0 or settings.prefetch < 1:
        raise VbenchError(f"--workers must be at least 0 and --prefetch at least 1 (got {settings.workers}, "
                          f"{settings.prefetch})")
    check_fraction(settings.max_unreadable)
    views = _views(settings)
    fusion = _fusion(settings, views)
    context = init_distributed(device.type)
    if context.enabled and device.type == "cuda":
        device = torch.device("cuda", context.local_rank)
    try:
        expects = model_info(resolve_depth(settings.model, settings.depth))  # the input statistics of its weights
        dataset = build_dataset(settings.dataset, settings.root, settings.split, settings.subset, views=views,
                                train=False, decoder=settings.decoder, mean=expects.mean, std=expects.std,
                                # on a GPU the loader only decodes and resizes, and the device cuts and
                                # normalises the views; on the CPU the workers cut them in parallel
                                deferred_views=device.type == "cuda", **settings.dataset_options)
        torch.manual_seed(settings.weights_seed)  # without a checkpoint, every process and run has the same weights
        model = create_model(settings.model, num_classes=dataset.num_classes, num_frames=views.frames,
                             depth=settings.depth)
        name = model.vbench_spec.name
        checkpoint_sha = _load_weights(model, settings, dataset.num_classes, settings.dataset)
        weights = _weights(settings, checkpoint_sha)
        model = model.eval().to(device)
        if settings.channels_last:
            model = model.to(memory_format=torch.channels_last)
        described = dataset.describe()
        scores_id = _sha1({"model": name, "overrides": model.vbench_spec.overrides, "checkpoint": checkpoint_sha,
                           "data": {k: described[k] for k in ("dataset", "split", "subset", "list_sha1", "views")},
                           "precision": settings.precision, "limit": settings.limit,
                           **({"weights_seed": weights["weights_seed"]} if weights["weights_seed"] else {})})
        store = ScoreStore(Path(settings.out) / "eval" / scores_id)
        total = len(dataset) if settings.limit is None else min(settings.limit, len(dataset))
        wanted = eval_fingerprint(model, scores_id)
        done: set[int] = set()
        notes = [device_note] if device_note else []
        if context.is_main:
            done, run_provenance = _start_or_resume(store, wanted, settings.resume, notes, on_note)
        done = broadcast_from_main(done, context)
        pending = [i for i in range(total) if i not in done]
        started = time.perf_counter()
        _score_all(model, dataset, pending, store, settings, context, device, dtype, on_progress, total - len(pending),
                   total)
        elapsed = time.perf_counter() - started
        if not context.is_main:
            return None
        fused = store.fuse(fusion, dataset.num_classes, expected=total)
        listing = write_listing(fused.skipped, store.folder / "skipped.json")
        check_unreadable(fused.skipped, total, settings.max_unreadable, listing)
        record = _record(settings, fused, dataset, name, model_info(name), views, fusion, checkpoint_sha, weights,
                         scores_id, elapsed, len(pending))
        if weights["weights"] == "random":
            notes.append(RANDOM_NOTE.format(seed=weights["weights_seed"]))
        if entry is not None:
            from vbench.evaluation.published import difference, expected_fields

            published = expected_fields(entry, settings, views)
            record.update(published, top1_diff=difference(record["top1"], published["expected_top1"]))
        record.update(device=device.type, device_name=device_name(device), world_size=context.world_size,
                      notes=notes, **run_provenance, **wanted)
        _write_outputs(record, fused, store.folder, dataset, Path(settings.out), fusion)
        return record
    finally:
        shutdown_distributed(context)


def _score_all(model, dataset, pending: list[int], store: ScoreStore, settings: EvalSettings,
               context: DistributedContext, device: torch.device, dtype: torch.dtype, on_progress, already: int,
               total: int) -> None:
    from vbench.data import collate
    from vbench.data.memory import keep_freed_memory

    keep_freed_memory()  # each item's views reuse the last one's memory instead of page-faulting anew
    shard = ShardSampler(pending, context.rank, context.world_size)
    largest = math.ceil(len(pending) / context.world_size) if pending else 0
    rounds = math.ceil(largest / settings.chunk) + 1  # every rank joins the same number of gathers
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=settings.batch_size, sampler=shard, collate_fn=collate,
        num_workers=settings.workers, pin_memory=device.type == "cuda",
        persistent_workers=False, prefetch_factor=settings.prefetch if settings.workers > 0 else None)
    buffer: list[dict] = []
    gathered_rounds = 0
    done = already
    clock = time.perf_counter()
    views_seen = 0

    def flush() -> None:
        nonlocal buffer, gathered_rounds, done
        items = gather_to_main(buffer, context)
        if context.is_main:
            store.write(items)
            done += len(items)
        buffer = []
        gathered_rounds += 1

    for batch in loader:
        for skipped in batch["skipped"]:
            buffer.append({"index": skipped["index"], "id": skipped["id"], "label": None, "scores": None,
                           "error": skipped["error"]})
        if batch["video"] is not None:
            scores = score_views(model, batch["video"], device, dtype, settings.channels_last, dataset.mean, dataset.std)
            views_seen += scores.shape[0] * scores.shape[1]
            for i, index in enumerate(batch["index"].tolist()):
                buffer.append({"index": index, "id": batch["id"][i], "label": int(batch["label"][i]),
                               "scores": scores[i].clone(), "error": None})
        if len(buffer) >= settings.chunk:
            flush()
        if on_progress and context.is_main:
            on_progress(done + len(buffer), total, views_seen / max(time.perf_counter() - clock, 1e-9))
    while gathered_rounds < rounds:
        flush()


RANDOM_NOTE = ("random weights (seed {seed}): no checkpoint was loaded, so this figure is not the "
               "model's accuracy")


def _weights(settings: EvalSettings, checkpoint_sha: str | None) -> dict:
    """Where the weights came from; the seed wherever some are random (all, or non-strict leftovers)."""
    random = checkpoint_sha is None
    return {"weights": "random" if random else "checkpoint",
            "weights_seed": settings.weights_seed if random or settings.non_strict else None}


def _record(settings: EvalSettings, fused: FusedScores, dataset, name: str, info, views, fusion: str,
            checkpoint_sha: str | None, weights: dict, scores_id: str, elapsed: float, scored_now: int) -> dict:
    result = fused.result
    top1, top5, mean_class = (result.top1, result.top5, result.mean_class) if result else (None, None, None)
    described = dataset.describe()
    return {
        "run_id": f"{scores_id}-{fusion}", "scores_id": scores_id, "model": name, "method": info.method,
        "dataset": settings.dataset, "split": described["split"], "subset": described["subset"],
        "frames": views.frames, "size": f"{views.crop_size}x{views.crop_size}", "short_side": views.short_side,
        "clips": views.clips, "crops": views.crops, "views": f"{views.clips}x{views.crops}",
        "sampling": views.sampling, "protocol": settings.protocol, "fusion": fusion,
        "checkpoint": settings.checkpoint, "checkpoint_sha256": checkpoint_sha, **weights,
        "top1": _round(top1), "top5": _round(top5), "mean_class": _round(mean_class),
        "videos": len(fused.scored), "skipped": len(fused.skipped),
        "skipped_examples": [f"{s['id']}: {s['error']}" for s in fused.skipped[:5]],
        "max_unreadable": settings.max_unreadable,
        "missing": described["missing"], "list_sha1": described["list_sha1"], "limit": settings.limit,
        "time_s": round(elapsed, 2), "clips_per_s": round(scored_now * views.views / elapsed, 3) if elapsed else None,
        "precision": settings.precision, "task": info.task, "status": "ok",
        "model_source": info.source,
    }


def _round(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(value, 4)


def _write_outputs(record: dict, fused: FusedScores, folder: Path, dataset, out: Path, fusion: str) -> None:
    """The record into eval.json/.csv/.md; per-class accuracy, confusion and predictions beside the scores."""
    if fused.result is not None:
        result, video_scores = fused.result, fused.video_scores
        per_class = [{"class": name, "index": i, "videos": int(result.confusion[i].sum()),
                      "top1": None if math.isnan(v) else round(v, 4)}
                     for i, (name, v) in enumerate(zip(dataset.classes, result.per_class.tolist()))]
        atomic_write_text(folder / f"per_class-{fusion}.csv", to_csv(per_class))
        confusion = [{"true": dataset.classes[i], **{dataset.classes[j]: int(c) for j, c in enumerate(row)}}
                     for i, row in enumerate(result.confusion.tolist())]
        atomic_write_text(folder / f"confusion-{fusion}.csv", to_csv(confusion))
        predictions = [{"id": item["id"], "label": item["label"], "prediction": int(video_scores[k].argmax()),
                        "score": round(float(video_scores[k].max()), 6)} for k, item in enumerate(fused.scored)]
        atomic_write_text(folder / f"predictions-{fusion}.csv", to_csv(predictions))
    atomic_write_text(folder / f"record-{fusion}.json", json.dumps(record, indent=1) + "\n")
    RecordStore(out, "eval", EVAL_RECORD_KEY, eval_markdown).put(record)


def rescore(run_folder: str | Path, average: str, out: str | Path = DEFAULT_OUT) -> dict:
    """A new record from a finished run's stored scores with another view fusion."""
    folder = Path(run_folder)
    previous = sorted(folder.glob("record-*.json"))
    if not previous:
        raise VbenchError(f"{folder} holds no finished eval run (no record-*.json): run vbench eval first")
    if average not in AVERAGES:
        raise VbenchError(f"unknown --average '{average}': use softmax or score")
    record = json.loads(previous[0].read_text())
    result = ScoreStore(folder).fuse(average).result
    if result is None:
        raise VbenchError(f"{folder} holds no readable video's scores: nothing to re-score")
    record.update(run_id=f"{record['scores_id']}-{average}", fusion=average, top1=_round(result.top1),
                  top5=_round(result.top5), mean_class=_round(result.mean_class), **rescored(record))
    if record.get("expected_top1") is not None:
        from vbench.evaluation.published import difference

        record["top1_diff"] = difference(record["top1"], record["expected_top1"])
    record["notes"] = list(record.get("notes") or []) + [f"re-scored from stored view scores with {average} fusion"]
    atomic_write_text(folder / f"record-{average}.json", json.dumps(record, indent=1) + "\n")
    RecordStore(Path(out), "eval", EVAL_RECORD_KEY, eval_markdown).put(record)
    return record

