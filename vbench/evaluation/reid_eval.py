"""``vbench eval`` on re-id datasets (MARS, iLIDS-VID, PRID-2011): retrieval, not classification.

Features of every test tracklet are extracted once (every tracklet once across torchrun
processes, gathered on rank 0), saved to ``<out>/eval/<scores_id>/features.npz`` and
scored under the gallery protocol and distance asked for; ``rescore_reid`` scores the
saved file again under another protocol or distance without running the model. The
record says protocol, distance, sampling, valid queries and gallery size.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from vbench.environment import provenance
from vbench.errors import VbenchError
from vbench.runtime.distributed import gather_to_main, init_distributed, shutdown_distributed
from vbench.evaluation.records import EVAL_RECORD_KEY, eval_fingerprint, eval_markdown, rescored
from vbench.results import DEFAULT_OUT, RecordStore, atomic_write_text


def is_reid_dataset(name: str) -> bool:
    from vbench.reid import READERS

    return name in READERS


def _load_features_only(model: torch.nn.Module, settings) -> tuple[str | None, list[str]]:
    """Load a checkpoint for feature extraction: a classifier of another size is not needed, so it is
    dropped with a note (re-id checkpoints carry the training identities' classifier)."""
    if not settings.checkpoint:
        return None, []
    from vbench.models.checkpoint import load_with_policy

    loaded = load_with_policy(model, settings.checkpoint, "partial" if settings.non_strict else "features",
                              trusted=settings.trusted)
    return loaded.sha256, loaded.notes


def evaluate_reid(settings, on_progress=None) -> dict | None:
    from vbench import reid
    from vbench.models import create_model, model_info
    from vbench.runtime.device import device_name, resolve_device

    protocol = settings.protocol or "official"
    if protocol not in reid.PROTOCOLS:
        raise VbenchError(f"unknown re-id protocol '{protocol}': choose from {', '.join(reid.PROTOCOLS)}")
    if settings.distance not in reid.DISTANCES:
        raise VbenchError(f"unknown distance '{settings.distance}': choose from {', '.join(reid.DISTANCES)}")
    if settings.test_sampling not in reid.SAMPLINGS:
        raise VbenchError(f"unknown test sampling '{settings.test_sampling}': choose from "
                          f"{', '.join(reid.SAMPLINGS)}")
    device, device_note = resolve_device(settings.device)
    context = init_distributed(device.type)
    if context.enabled and device.type == "cuda":
        device = torch.device("cuda", context.local_rank)
    try:
        trials = reid.load_trials(settings.dataset, settings.root, settings.trial, **settings.dataset_options)
        store, tracklets = reid.FeatureStore.for_trials(trials)
        first = store.trials[0]
        reid.gallery_view(protocol, store.pids, first["query"], first["gallery"], tuple(store.meta["protocols"]))
        run_provenance = provenance()  # the run's start
        torch.manual_seed(0)  # without a checkpoint, every process (and every run) has the same weights
        model = create_model(settings.model, num_frames=settings.seq_len or settings.frames, depth=settings.depth)
        name = model.vbench_spec.name
        info = model_info(name)
        checkpoint_sha, notes = _load_features_only(model, settings)
        model = model.eval().to(device)
        seq_len = model.vbench_spec.num_frames
        mine = list(range(len(tracklets)))[context.rank::context.world_size]
        started = time.perf_counter()
        progress = (lambda done, total: on_progress(done, total, done / max(time.perf_counter() - started, 1e-9))) \
            if on_progress and context.is_main else None
        features = reid.extract_features(model, [tracklets[i] for i in mine], sampling=settings.test_sampling,
                                         seq_len=seq_len, size=tuple(info.size), batch_size=settings.batch_size,
                                         device=device, num_workers=settings.workers, progress=progress)
        rows = gather_to_main(list(zip(mine, features)), context)
        if not context.is_main:
            return None
        rows.sort(key=lambda row: row[0])
        store.features = np.stack([f for _, f in rows]).astype(np.float32)
        scores_id = _scores_id(name, checkpoint_sha, settings, seq_len)
        store.meta.update({"sampling": settings.test_sampling, "seq_len": seq_len, "size": list(info.size),
                           "model": name, "checkpoint_sha256": checkpoint_sha})
        folder = Path(settings.out) / "eval" / scores_id
        features_path = store.save(folder / "features.npz")
        result = reid.score(store, protocol, settings.distance)
        record = _record(result, name, info, settings, checkpoint_sha, scores_id, features_path,
                         time.perf_counter() - started)
        record.update(device=device.type, device_name=device_name(device), world_size=context.world_size,
                      notes=([device_note] if device_note else []) + notes, **run_provenance,
                      **eval_fingerprint(model, scores_id))
        _save(record, folder, Path(settings.out))
        return record
    finally:
        shutdown_distributed(context)


def _scores_id(name: str, checkpoint_sha: str | None, settings, seq_len: int) -> str:
    import hashlib

    payload = {"model": name, "checkpoint": checkpoint_sha, "dataset": settings.dataset, "root": str(settings.root),
               "trial": settings.trial, "sampling": settings.test_sampling, "seq_len": seq_len}
    return hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


def _record(result, name: str, info, settings, checkpoint_sha, scores_id: str, features_path: Path,
            elapsed: float) -> dict:
    figures = result.to_record()
    h, w = info.size
    return {
        "run_id": f"{scores_id}-{result.protocol}-{result.distance}", "scores_id": scores_id, "model": name,
        "method": info.method, "dataset": settings.dataset, "split": None, "subset": "query/gallery",
        "frames": result.seq_len, "size": f"{h}x{w}", "views": "-", "protocol": result.protocol,
        "distance": result.distance, "sampling": result.sampling, "seq_len": result.seq_len,
        "map": _round(figures["map"]), "map_interpolated": _round(figures.get("map_interpolated")),
        **{f"rank{k}": _round(figures.get(f"rank{k}")) for k in (1, 5, 10, 20)},
        "valid_queries": result.valid_queries, "skipped_queries": result.skipped_queries,
        "num_queries": result.num_queries, "gallery_size": result.gallery_size, "trials": result.trials,
        "per_trial": figures.get("per_trial"), "features": str(features_path),
        "checkpoint": settings.checkpoint, "checkpoint_sha256": checkpoint_sha,
        "weights": "checkpoint" if checkpoint_sha else "random", "weights_seed": None if checkpoint_sha else 0,
        "time_s": round(elapsed, 2), "task": info.task, "status": "ok",
        "model_source": info.source,
    }


def _round(value):
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else round(float(value), 4)


def _save(record: dict, folder: Path, out: Path) -> None:
    atomic_write_text(folder / f"record-{record['protocol']}-{record['distance']}.json",
                      json.dumps(record, indent=1) + "\n")
    RecordStore(out, "eval", EVAL_RECORD_KEY, eval_markdown).put(record)


def rescore_reid(features_path: str | Path, protocol: str = "official", distance: str = "euclidean",
                 trial: int | None = None, out: str | Path = DEFAULT_OUT) -> dict:
    """A new record from saved features under another protocol or distance."""
    from vbench import reid
    from vbench.models import model_info

    features_path = Path(features_path)
    previous = sorted(features_path.parent.glob("record-*.json"))
    if not previous:
        raise VbenchError(f"{features_path.parent} holds no finished re-id run (no record-*.json)")
    base = json.loads(previous[0].read_text())
    result = reid.score(reid.FeatureStore.load(features_path), protocol, distance, trial)

    class _Settings:  # what _record reads from the original run
        dataset, checkpoint = base["dataset"], base.get("checkpoint")

    record = _record(result, base["model"], model_info(base["model"]), _Settings, base.get("checkpoint_sha256"),
                     base["scores_id"], features_path, 0.0)
    record.update({k: base.get(k) for k in ("device", "device_name", "world_size")}, **rescored(base))
    record["notes"] = [f"re-scored from saved features under {protocol}, {distance}"]
    _save(record, features_path.parent, Path(out))
    return record
