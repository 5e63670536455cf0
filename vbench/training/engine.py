"""``vbench.train``: one recipe for every model, validation each epoch, resumable, DDP.

Every epoch ends with a checkpoint (``<out>/train/<run_id>/last.pth``: model, optimiser,
schedule, scaler, critic, RNG state, history), written atomically, so a killed run
resumes from its last finished epoch and reaches the result an uninterrupted run would.
Under ``torchrun`` the model is wrapped in DistributedDataParallel; every process draws
the same permutation of the training set each epoch and takes every N-th video of it,
so that N processes with batch B/N see the global batches one process with batch B sees
(with ``sync_bn`` the batch norm statistics are the global batch's too).

Unreadable videos are skipped and counted (``skipped``: training, ``val_skipped``:
validation, per epoch); when more than ``max_unreadable`` of the validation videos
cannot be read the run stops, listing them in ``val_skipped.json``, rather than report a
top-1 of another test set. The training set has no limit: its skips only shrink an epoch.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from vbench.data.unreadable import MAX_UNREADABLE, TooManyUnreadable, check_fraction, check_unreadable, \
    write_listing
from vbench.environment import now, provenance, stamp_resume
from vbench.errors import VbenchError
from vbench.evaluation.metrics import classification_result
from vbench.fingerprint import code_sources, digest, explain, fingerprint, model_parts
from vbench.results import DEFAULT_OUT, RecordStore
from vbench.runtime.distributed import (DistributedContext, ShardSampler, broadcast_from_main, gather_to_main,
                                        init_distributed, shutdown_distributed)
from vbench.runtime.storage import atomic_torch_save
from vbench.training.recipe import Recipe, make_optimizer, make_schedule
from vbench.training.records import train_markdown, train_record
from vbench.training.state import TrainingState
from vbench.training.step import TrainingStep, optimise

TRAIN_RECORD_KEY = ("run_id",)


@dataclass
class TrainSettings:
    dataset: str
    model: str
    root: str | None = None
    split: int | None = None
    epochs: int = 3
    batch_size: int = 8  # global batch
    recipe: Recipe = field(default_factory=Recipe)
    depth: int | None = None
    frames: int = 8
    size: int = 224  # crop size
    short_side: int | None = None  # default: size * 256 / 224
    init: str | None = None
    seed: int = 0
    workers: int = 2
    device: str = "auto"
    precision: str = "fp32"
    channels_last: bool = False
    sync_bn: bool = True
    dreal: bool = False
    dropout: float | None = None
    limit_train: int | None = None
    limit_val: int | None = None
    validate: bool = True
    out: str = DEFAULT_OUT
    resume: bool = False
    max_unreadable: float = MAX_UNREADABLE  # fraction of the validation videos that may be unreadable
    dataset_options: dict[str, Any] = field(default_factory=dict)

    def defining_fields(self, init_sha: str | None) -> dict:
        """The settings that define the run (not where it writes or how many loader workers)."""
        fields = asdict(self)
        for volatile in ("workers", "out", "resume", "device", "max_unreadable"):  # none changes the numbers
            fields.pop(volatile)
        fields["init"] = init_sha
        return fields

    def run_id(self, init_sha: str | None) -> str:
        fields = self.defining_fields(init_sha)
        return hashlib.sha1(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:12]

    def fingerprint(self, model: torch.nn.Module, init_sha: str | None) -> dict:
        """What the run's result depends on: model code and arguments, vbench's training,
        evaluation and data code, and the settings."""
        return fingerprint({**model_parts(model), "training_code": digest(code_sources("training", "evaluation")),
                            "data_code": digest(code_sources("data")),
                            "settings": digest(self.defining_fields(init_sha))})


class EpochSampler(torch.utils.data.Sampler[int]):
    """This process's share of one permutation per epoch, drawn from (seed, epoch).

    Every process draws the same permutation, keeps whole global batches (the last
    partial one is dropped, as ``drop_last``), and takes every ``world``-th index, so the
    union of the processes' batches is the single-process batch.
    """

    def __init__(self, size: int, global_batch: int, seed: int, rank: int = 0, world: int = 1):
        if global_batch % world:
            raise VbenchError(f"the batch size {global_batch} must be a multiple of the {world} processes")
        self.size, self.global_batch, self.seed, self.rank, self.world = size, global_batch, seed, rank, world
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _indices(self) -> list[int]:
        generator = torch.Generator().manual_seed(self.seed * 1000003 + self.epoch)
        order = torch.randperm(self.size, generator=generator).tolist()
        whole = len(order) // self.global_batch * self.global_batch
        return order[:whole][self.rank::self.world]

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices())

    def __len__(self) -> int:
        return self.size // self.global_batch * self.global_batch // self.world


def _initialise(model: torch.nn.Module, path: str) -> str:
    """Start from ``path``: a torchvision ImageNet ResNet (into the trunk) or a vbench/official checkpoint."""
    from vbench.models.checkpoint import load_with_policy

    return load_with_policy(model, path, "init").sha256


def validate(model: torch.nn.Module, dataset, context: DistributedContext, device: torch.device,
             dtype: torch.dtype, batch_size: int, workers: int, limit: int | None = None):
    """Top-1/top-5 of the in-memory model on ``dataset`` (its views), every video once across processes,
    and the unreadable videos' ``{index, id, error}``; on the main process only (None, [] elsewhere)."""
    from vbench.data import collate
    from vbench.evaluation.scoring import score_views
    from vbench.evaluation.metrics import fuse_views

    indices = list(range(len(dataset) if limit is None else min(limit, len(dataset))))
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, collate_fn=collate, num_workers=workers,
                                         sampler=ShardSampler(indices, context.rank, context.world_size))
    was_training = model.training
    model.eval()
    items, skipped = [], []
    for batch in loader:
        skipped += [{"index": s["index"], "id": s["id"], "error": s["error"]} for s in batch["skipped"]]
        if batch["video"] is None:
            continue
        scores = score_views(model, batch["video"], device, dtype)
        items += [(int(i), s, int(label)) for i, s, label in zip(batch["index"], scores, batch["label"])]
    model.train(was_training)
    items, skipped = gather_to_main(items, context), gather_to_main(skipped, context)
    if not context.is_main:
        return None, []
    skipped.sort(key=lambda item: item["index"])
    if not items:
        return None, skipped
    items.sort(key=lambda item: item[0])
    scores = fuse_views(torch.stack([s for _, s, _ in items]), "softmax")
    return classification_result(scores, torch.tensor([label for _, _, label in items]),
                                 dataset.num_classes), skipped


def _check_validation(skipped: list[dict], total: int, settings: TrainSettings, folder: Path,
                      context: DistributedContext) -> None:
    """Stop every process when too many validation videos were unreadable (the main one decides)."""
    problem = None
    if context.is_main:
        listing = write_listing(skipped, folder / "val_skipped.json")
        try:
            check_unreadable(skipped, total, settings.max_unreadable, listing, what="validation videos")
        except TooManyUnreadable as error:
            problem = str(error)
    problem = broadcast_from_main(problem, context)
    if problem:
        raise TooManyUnreadable(problem)


def _finished_record(out: str, run_id: str, wanted: dict) -> dict | None:
    """The saved record of a finished run with this fingerprint, if there is one."""
    done = RecordStore(Path(out), "train", TRAIN_RECORD_KEY).get({"run_id": run_id})
    return done if done is not None and explain(done, wanted) is None else None


def train(settings: TrainSettings, *, on_step: Callable[[dict], None] | None = None,
          on_epoch: Callable[[dict], None] | None = None,
          on_note: Callable[[str], None] | None = None) -> dict | None:
    """Train and validate; returns the final record on rank 0 (None on other ranks).

    With ``resume`` a run continues from its last checkpoint, and a finished run returns
    its saved record unchanged, only while the fingerprint matches; otherwise it trains
    from scratch and ``on_note`` hears why. The record keeps the provenance (revision,
    dirty flag, time) of the run's start, with ``resumed_at`` for each resume.
    """
    from vbench.data import collate
    from vbench.models import create_model, model_info
    from vbench.runtime.device import device_name, resolve_device, resolve_precision

    if settings.epochs < 1 or settings.batch_size < 1:
        raise VbenchError("--epochs and --batch-size must be at least 1")
    check_fraction(settings.max_unreadable)
    device, device_note = resolve_device(settings.device)
    dtype = resolve_precision(settings.precision)
    context = init_distributed(device.type)
    if context.enabled and device.type == "cuda":
        device = torch.device("cuda", context.local_rank)
    try:
        torch.manual_seed(settings.seed)
        train_set, val_set, val_total = _datasets(settings)
        num_classes = val_set.num_classes
        overrides = {"dropout": settings.dropout} if settings.dropout is not None else {}
        model = create_model(settings.model, num_classes=num_classes, num_frames=settings.frames,
                             depth=settings.depth, **overrides)
        name = model.vbench_spec.name
        init_sha = _initialise(model, settings.init) if settings.init else None
        run_id = settings.run_id(init_sha)
        wanted = settings.fingerprint(model, init_sha)
        run_provenance = provenance()
        notes = [device_note] if device_note else []
        folder = Path(settings.out) / "train" / run_id
        if context.enabled and settings.sync_bn:
            from vbench.training.sync_bn import convert_sync_batchnorm

            model = convert_sync_batchnorm(model, device.type)
        model = model.to(device)
        if settings.channels_last:
            model = model.to(memory_format=torch.channels_last)
        step = TrainingStep()
        if settings.dreal:
            from vbench.training.dreal import Dreal

            step = Dreal(model, seed=settings.seed, device=device)
        optimizer = make_optimizer(model, settings.recipe)
        per_process = settings.batch_size // context.world_size
        sampler = EpochSampler(len(train_set), settings.batch_size, settings.seed, context.rank, context.world_size)
        steps_per_epoch = len(sampler) // per_process
        if steps_per_epoch == 0:
            raise VbenchError(f"the training set has {len(train_set)} videos, fewer than one batch of "
                              f"{settings.batch_size}: lower --batch-size")
        schedule = make_schedule(optimizer, settings.recipe, steps_per_epoch, settings.epochs)
        scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16 and device.type == "cuda")
        state = TrainingState(model, optimizer, schedule, scaler, step)
        wrapped = model
        if context.enabled:
            wrapped = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None)
        checkpoint = folder / "last.pth"
        saved = torch.load(checkpoint, map_location="cpu", weights_only=False) \
            if settings.resume and checkpoint.exists() else None
        why = explain(saved, wanted) if saved is not None else None
        if why is not None:
            note = f"{name}: the checkpoint in {folder} is not resumed and training starts again, as {why}"
            notes.append(note)
            if on_note and context.is_main:
                on_note(note)
            saved = None
        if saved is not None:
            finished = saved["epoch"] + 1 >= settings.epochs
            done = _finished_record(settings.out, run_id, wanted) if finished else None
            if done is not None:  # a finished run: its record as it was made
                return done if context.is_main else None
            run_provenance = stamp_resume(saved["provenance"])
            state.restore(saved)
        history = state.history
        started = time.perf_counter() - sum(h["time_s"] for h in history)
        for epoch in range(state.epoch + 1, settings.epochs):
            epoch_start = time.perf_counter()
            sampler.set_epoch(epoch)
            base = train_set.dataset if isinstance(train_set, torch.utils.data.Subset) else train_set
            base.set_epoch(epoch)
            loader = torch.utils.data.DataLoader(train_set, batch_size=per_process, sampler=sampler,
                                                 collate_fn=collate, num_workers=settings.workers, drop_last=True,
                                                 pin_memory=device.type == "cuda")
            mean_loss, skipped = train_epoch(state, wrapped, loader, settings.recipe, context, device, dtype,
                                             epoch, steps_per_epoch, on_step)
            result, val_skipped = None, []
            if settings.validate:
                result, val_skipped = validate(model, val_set, context, device, dtype, per_process or 1,
                                               settings.workers, settings.limit_val)
                _check_validation(val_skipped, val_total, settings, folder, context)
            entry = {"epoch": epoch, "loss": round(mean_loss, 6), "lr": state.schedule.get_last_lr()[0],
                     **_validation_entry(result, val_set.classes),
                     "skipped": skipped, "val_skipped": len(val_skipped) if settings.validate else None,
                     "time_s": round(time.perf_counter() - epoch_start, 2)}
            history.append(entry)
            state.epoch = epoch
            if context.is_main:
                state.save(checkpoint, settings=asdict(settings), provenance=run_provenance, **wanted)
                if on_epoch:
                    on_epoch(entry)
            if context.enabled:
                dist.barrier()
        if not context.is_main:
            return None
        final = model  # synchronised batch norms keep the plain state dict keys
        weights = folder / "model.pth"
        atomic_torch_save({"state_dict": final.state_dict(), "model": name, "num_classes": num_classes,
                      "frames": settings.frames, "classes": val_set.classes}, weights)
        record = train_record(settings, model_info(name), run_id, history, val_total, len(train_set),
                              time.perf_counter() - started, weights, device, device_name(device), context.world_size,
                              notes, {**run_provenance, "finished_at": now(), **wanted})
        RecordStore(Path(settings.out), "train", TRAIN_RECORD_KEY, train_markdown).put(record)
        return record
    finally:
        shutdown_distributed(context)


def _datasets(settings: TrainSettings):
    """The training set (a subset with ``limit_train``), the validation set, and how many
    validation videos are scored."""
    from vbench.data import build_dataset, resolve_views
    from vbench.models.registry import model_info, resolve_depth

    short_side = settings.short_side or round(settings.size * 256 / 224)
    views = resolve_views(None, frames=settings.frames, short_side=short_side, crop_size=settings.size)
    expects = model_info(resolve_depth(settings.model, settings.depth))  # the input statistics it is built for
    stats = {"mean": expects.mean, "std": expects.std}
    train_set = build_dataset(settings.dataset, settings.root, settings.split, "train", views=views,
                              train=True, seed=settings.seed, **stats, **settings.dataset_options)
    val_set = build_dataset(settings.dataset, settings.root, settings.split, "test", views=views,
                            train=False, **stats, **settings.dataset_options)
    val_total = len(val_set) if settings.limit_val is None else min(settings.limit_val, len(val_set))
    if settings.limit_train is not None:
        train_set = torch.utils.data.Subset(train_set, range(min(settings.limit_train, len(train_set))))
    return train_set, val_set, val_total


def train_epoch(state: TrainingState, wrapped: torch.nn.Module, loader, recipe: Recipe,
                context: DistributedContext, device: torch.device, dtype: torch.dtype, epoch: int,
                steps_per_epoch: int, on_step: Callable[[dict], None] | None = None) -> tuple[float, int]:
    """One pass over the training loader; the mean loss over every process, and the unreadable
    videos this process skipped."""
    wrapped.train()
    losses, skipped, seen = [], 0, 0
    epoch_start = time.perf_counter()
    for index, batch in enumerate(loader):
        skipped += len(batch["skipped"])
        if batch["video"] is None:
            continue
        video = batch["video"][:, 0].to(device, non_blocking=True)
        labels = batch["label"].to(device)
        loss, extra = optimise(state.step, wrapped, state.model, video, labels, state.optimizer, state.schedule,
                               state.scaler, recipe, dtype)
        losses.append(loss)
        seen += video.shape[0]
        if on_step and context.is_main:
            on_step({"epoch": epoch, "step": index + 1, "steps": steps_per_epoch, "loss": loss,
                     "lr": state.schedule.get_last_lr()[0],
                     "clips_per_s": seen * context.world_size / (time.perf_counter() - epoch_start), **extra})
    return _mean_across(sum(losses), len(losses), context, device), skipped


def _validation_entry(result, classes: list[str]) -> dict:
    """The history fields of one validation (all None without one)."""
    if result is None:
        return {"top1": None, "top5": None, "mean_class": None, "per_class_top1": None}
    return {"top1": round(result.top1, 4), "top5": round(result.top5, 4), "mean_class": round(result.mean_class, 4),
            "per_class_top1": {name: (None if math.isnan(v) else round(v, 4))
                               for name, v in zip(classes, result.per_class.tolist())}}


def _mean_across(total: float, count: int, context: DistributedContext, device: torch.device) -> float:
    if context.enabled:
        tensor = torch.tensor([total, count], dtype=torch.float64, device=device)
        dist.all_reduce(tensor)
        total, count = tensor.tolist()
    return total / count if count else math.nan

