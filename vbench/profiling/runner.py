"""``vbench.profile``: measure models under one set of settings and record each result.

For every model: build it, count params and GFLOPs (MACs, per view, batch 1), then for
every batch size time the forward pass and measure its peak memory. Each finished
record is written at once (``RecordStore``), so a killed run keeps what it measured and
``resume=True`` skips it while its fingerprint (model code and arguments, measuring code,
settings) is unchanged, and re-measures it with the reason otherwise. A model that fails
to build or run becomes a ``failed`` record with its reason, and the run goes on.

A latency whose spread breaks ``STABILITY_RULE`` is marked ``latency_stable: false`` and
measured once more at the end of the run, when the job that disturbed it may have ended;
the record keeps both measurements and the machine's load around each.
"""

from __future__ import annotations

import contextlib
import math
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from vbench.errors import VbenchError
from vbench.fingerprint import code_sources, digest, explain, fingerprint, model_parts
from vbench.models.registry import create_model, list_models, model_info, resolve_depth
from vbench.runtime.device import resolve_device, resolve_precision
from vbench.profiling.execution import build_for_measurement
from vbench.profiling.flops import count_flops
from vbench.profiling.memory import ProbeSupply
from vbench.profiling.params import count_params
from vbench.profiling.records import (RECORD_KEY, STABILITY_RULE, base_record, instability, judge_stability,
                                     optimized_fields, record_key, unstable_records)
from vbench.results import DEFAULT_OUT, RecordStore

METRICS = ("params", "flops", "latency", "memory")
@dataclass
class ProfileSettings:
    """One setting for every model; ``None`` means each model's own default."""

    frames: int | None = None
    size: tuple[int, int] | None = None
    batch_sizes: tuple[int, ...] = (1,)
    num_classes: int | None = None
    device: str = "auto"
    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False
    depth: int | None = None
    metrics: tuple[str, ...] = METRICS
    peak: bool = False
    time_budget_s: float = 10.0
    warmup: int = 3
    flop_cache: bool = True  # reuse a stored count of the same model code, arguments and input
    optimize: bool = False  # also time the deploy-mode model (optimize.py); records go to profile-optimized.*
    notes: list[str] = field(default_factory=list)

    def validate(self) -> None:
        unknown = set(self.metrics) - set(METRICS)
        if unknown:
            raise VbenchError(f"unknown metric(s) {', '.join(sorted(unknown))}: choose from {', '.join(METRICS)}")
        if self.frames is not None and self.frames < 1:
            raise VbenchError(f"--frames must be a positive number, got {self.frames}")
        if self.size is not None and min(self.size) < 1:
            raise VbenchError(f"--size must be positive, got {self.size[0]}x{self.size[1]}")
        if not self.batch_sizes or min(self.batch_sizes) < 1:
            raise VbenchError(f"--batch-size must be positive, got {list(self.batch_sizes)}")
        if self.num_classes is not None and self.num_classes < 1:
            raise VbenchError(f"--num-classes must be positive, got {self.num_classes}")
        resolve_precision(self.precision)
        if self.optimize and (self.channels_last or self.compile):
            raise VbenchError("--optimize tries channels-last and torch.compile itself and times the eager model "
                              "beside it: drop --channels-last/--compile")
        if self.optimize and "latency" not in self.metrics:
            raise VbenchError("--optimize measures latency: keep latency in --metrics")


def parse_size(text: str | int | None) -> tuple[int, int] | None:
    """``224`` or ``"224"`` -> (224, 224); ``"256x128"`` -> (256, 128) (H x W)."""
    if text is None or text == "":
        return None
    if isinstance(text, int):
        return (text, text)
    parts = str(text).lower().replace("*", "x").split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise VbenchError(f"bad size '{text}': give one number (224) or HxW (256x128)") from None
    if len(values) == 1:
        values *= 2
    if len(values) != 2 or min(values) < 1:
        raise VbenchError(f"bad size '{text}': give one positive number (224) or HxW (256x128)")
    return values[0], values[1]


def measurement_request(name: str, settings: ProfileSettings, batch: int, device: torch.device) -> dict:
    """A JSON-able description of one measurement (the CPU memory probe rebuilds from it)."""
    info = model_info(name)
    size = settings.size or info.size
    frames = (settings.frames or info.frames) if info.input == "video" else None
    return {
        "model": name, "frames": frames, "size": [size[0], size[1]], "batch_size": batch,
        "num_classes": settings.num_classes or info.num_classes, "device": device.type,
        "precision": settings.precision, "channels_last": settings.channels_last,
        "compile": settings.compile, "threads": torch.get_num_threads(),
    }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(value, digits)


class Phases:
    """Wall-clock seconds of each phase of a measurement (``--verbose`` shows them): where
    the time of a profile run goes."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 3)


class _ModelCosts:
    """Params and FLOPs of one model at one input, counted once for all batch sizes."""

    def __init__(self, model: torch.nn.Module, request: dict, metrics: Sequence[str], phases: Phases,
                 use_cache: bool = True):
        self.params_m = self.flops = None
        if "params" in metrics:
            with phases("params"):
                self.params_m = count_params(model) / 1e6
        self.flops_cached = False
        if "flops" in metrics:
            from vbench.profiling.cache import flop_key, load_flops, save_flops

            shape = model_info(request["model"]).input_shape(1, request["frames"], tuple(request["size"]))
            with phases("flops"):
                key = flop_key(model, shape) if use_cache else None
                self.flops = load_flops(key) if key else None
                self.flops_cached = self.flops is not None
                if self.flops is None:
                    self.flops = count_flops(model.cpu().eval(), torch.randn(shape))
                    if key:
                        save_flops(key, self.flops)


def _fill_costs(record: dict, costs: _ModelCosts) -> None:
    record["params_m"] = _round(costs.params_m, 4)
    if costs.flops is not None:
        f = costs.flops
        record.update(
            gflops=_round(f.gflops, 4), gflops_without_bn=_round(f.gflops_without_bn, 4),
            gflops_by_op={k: round(v / 1e9, 6) for k, v in f.by_operator.items()},
            elementwise_gops=_round(f.elementwise_ops / 1e9, 4),
            gflops_dispatch=_round(f.dispatch_macs / 1e9, 4) if f.dispatch_macs is not None else None,
            uncounted_ops=f.uncounted, flops_cached=costs.flops_cached,
        )


def measurement_fingerprint(model: torch.nn.Module, request: dict, settings: ProfileSettings) -> dict:
    """What a profile record depends on: the model's code and arguments, vbench's
    measuring code, the input and the settings that shape the figures."""
    chosen = dict(request)
    chosen.update(metrics=sorted(settings.metrics), warmup=settings.warmup, time_budget_s=settings.time_budget_s,
                  peak=settings.peak)
    if settings.optimize:
        chosen["optimize"] = True
    return fingerprint({**model_parts(model), "measuring_code": digest(code_sources("profiling")),
                        "settings": digest(chosen)})


def _time_latency(record: dict, run: Callable[[], Any], request: dict, settings: ProfileSettings,
                  device: torch.device) -> None:
    """Latency and throughput, with the machine's load just before and after."""
    from vbench.profiling import load
    from vbench.profiling.timing import measure_latency

    before = load.machine_load(device)
    latency, share = load.measure_cpu_share(
        lambda: measure_latency(run, device, warmup=settings.warmup, budget_s=settings.time_budget_s))
    batch = request["batch_size"]
    record.update(latency_ms=_round(latency.median_ms, 3), latency_iqr_ms=_round(latency.iqr_ms, 3),
                  latency_runs=latency.runs, timing_method=latency.method,
                  throughput=_round(batch / (latency.median_ms / 1e3), 3),
                  latency_iqr_ok=latency.stable, latency_stable=latency.stable, machine_busy=None,
                  cpu_share=share if device.type == "cpu" else None, stability_rule=STABILITY_RULE,
                  machine_load={"before": before, "after": load.machine_load(device)})


def _fill_rates(record: dict) -> None:
    """GMAC/s reached by the timed forward pass, and its fraction of the device's peak."""
    if record["gflops"] is None or not record["latency_ms"]:
        return
    achieved = record["gflops"] * record["batch_size"] / (record["latency_ms"] / 1e3)
    record["achieved_gflops_per_s"] = _round(achieved, 2)
    if record.get("device_peak_gflops_per_s"):
        record["peak_fraction"] = _round(achieved / record["device_peak_gflops_per_s"], 4)


def _time_optimized(record: dict, measured: tuple, request: dict, settings: ProfileSettings,
                    device: torch.device) -> None:
    """Deploy-mode latency beside the eager one (``optimize.py``), in the same record."""
    from vbench.profiling import load
    from vbench.profiling.optimize import optimize_for_inference
    from vbench.profiling.records import CPU_SHARE_MIN
    from vbench.profiling.timing import measure_latency, paired_ratio

    model, inputs, eager_run = measured
    optimized = optimize_for_inference(model, inputs, device, request["precision"],
                                       trial_budget_s=min(2.0, settings.time_budget_s / 4))

    def timed():
        return measure_latency(optimized.run, device, warmup=settings.warmup, budget_s=settings.time_budget_s)

    try:
        latency, share = load.measure_cpu_share(timed)
    except Exception as error:  # a compiled model that breaks only now is timed eager, and says why
        if not optimized.compiled:
            raise
        optimized.give_up_compile(error)
        latency, share = load.measure_cpu_share(timed)
    stable = latency.stable and (device.type != "cpu" or share >= CPU_SHARE_MIN)
    record.update(optimizations=optimized.optimizations, bn_folded=optimized.bn_folded,
                  batchnorms=optimized.batchnorms, channels_last_trial=optimized.channels_last_trial,
                  compiled=optimized.compiled, compile_error=optimized.compile_error,
                  compile_s=optimized.compile_s, compile_warmup_calls=optimized.compile_warmup_calls,
                  compile_trial=optimized.compile_trial, max_logit_diff=optimized.max_logit_diff,
                  eager_fp64_diff=optimized.eager_fp64_diff,
                  optimized_latency_ms=_round(latency.median_ms, 3), optimized_latency_iqr_ms=_round(latency.iqr_ms, 3),
                  optimized_latency_runs=latency.runs, optimized_timing_method=latency.method,
                  optimized_cpu_share=share if device.type == "cpu" else None, optimized_latency_stable=stable,
                  optimized_throughput=_round(request["batch_size"] / (latency.median_ms / 1e3), 3))
    # the speed-up from neighbouring blocks of both: the two latencies above are minutes apart
    paired = paired_ratio(eager_run, optimized.run)
    record.update(speedup=_round(paired.median, 3), speedup_iqr=[_round(paired.q1, 3), _round(paired.q3, 3)],
                  speedup_method=f"eager / optimised: {paired.method}")
    record["notes"] += optimized.notes


def _measure_batch(record: dict, measured: tuple, request: dict, settings: ProfileSettings,
                   device: torch.device, phases: Phases, supply=None) -> None:
    """Latency, memory and the optimised latency of one batch size. ``supply`` holds the
    memory probe started ahead; it must sit idle while a latency is timed."""
    model, inputs, run = measured
    from vbench.profiling.memory import cpu_peak_memory, cuda_peak_memory

    if "latency" in settings.metrics:
        if supply is not None:
            with phases("memory"):  # the probe's start not hidden by earlier work
                supply.settle()
        with phases("latency"):
            _time_latency(record, run, request, settings, device)
        if settings.peak:
            from vbench.profiling.peak import matmul_peak_gmacs

            peak = matmul_peak_gmacs(device.type, resolve_precision(settings.precision))
            record["device_peak_gflops_per_s"] = _round(peak, 2)
        _fill_rates(record)
    if "memory" in settings.metrics:
        with phases("memory"):
            memory = cuda_peak_memory(run, device) if device.type == "cuda" else \
                cpu_peak_memory({**request, "compile": False}, supply=supply)
        if device.type != "cuda" and request["compile"]:
            record["notes"].append("CPU memory measured on the eager model (no torch.compile)")
        record.update(peak_memory_mb=_round(memory.mib, 1), memory_method=memory.method)
    if settings.optimize:
        if supply is not None:
            supply.settle()
        with phases("optimize"):
            _time_optimized(record, measured, request, settings, device)


def _failure(record: dict, error: BaseException) -> dict:
    record["status"] = "failed"
    if isinstance(error, VbenchError):
        record["error"] = str(error)
    else:
        where = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
        origin = f" (at {Path(where.filename).name}:{where.lineno})" if where else ""
        record["error"] = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}{origin}"
    return record


def resolve_model_names(models: Sequence[str] | None, depth: int | None) -> list[str]:
    """Registry names to profile: every model when ``models`` is empty, at ``depth`` where it applies."""
    if not models:
        names = list_models()
        return [resolve_depth(n, depth) if depth and depth in model_info(n).depths else n for n in names]
    return [resolve_depth(model_info(n).name, depth) for n in models]


def profile(
    models: Sequence[str] | None = None,
    settings: ProfileSettings | None = None,
    *,
    out_dir: str | Path | None = DEFAULT_OUT,
    resume: bool = False,
    on_start: Callable[[str, int], None] | None = None,
    on_record: Callable[[dict], None] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> list[dict]:
    """Profile ``models`` (all registered models when None) and return their records.

    Records are saved to ``out_dir`` (``profile.json``/``.csv``/``.md``, or
    ``profile-optimized.*`` with ``settings.optimize``, which keeps the eager-only table
    that reports read apart) as soon as each is measured; pass ``out_dir=None`` to keep
    them in memory only. ``on_note`` hears why a stored record is measured again and
    which latencies are re-measured.
    """
    from vbench.profiling.records import profile_markdown

    settings = settings or ProfileSettings()
    settings.validate()
    device, note = resolve_device(settings.device)
    notes = settings.notes + ([note] if note else [])
    names = resolve_model_names(models, settings.depth)
    store_name = "profile-optimized" if settings.optimize else "profile"
    store = RecordStore(out_dir, store_name, RECORD_KEY, profile_markdown) if out_dir is not None else None
    tell = on_note or (lambda text: None)
    records = []
    supply = ProbeSupply() if device.type == "cpu" and "memory" in settings.metrics else None
    try:
        _profile_models(names, settings, device, notes, store, resume, records, supply, tell, on_start, on_record)
    finally:
        if supply is not None:
            supply.close()
    _remeasure_unstable(records, settings, device, store, tell)
    return records


def _profile_models(names: list[str], settings: ProfileSettings, device: torch.device, notes: list[str],
                    store: RecordStore | None, resume: bool, records: list[dict], supply, tell, on_start,
                    on_record) -> None:
    """The loop over models and batch sizes; each finished record is stored at once."""
    for name in names:
        if supply is not None:
            supply.prefetch(name)  # started once (a new one only for other plugins), during the first build
        requests = [measurement_request(name, settings, b, device) for b in settings.batch_sizes]
        model = costs = None
        model_phases = Phases()
        try:
            with model_phases("build"):
                model = create_model(name, num_classes=requests[0]["num_classes"], num_frames=requests[0]["frames"])
        except Exception as error:  # recorded below, once per batch size
            build_error = error
        pending = []
        for request in requests:
            done = store.get(record_key(request)) if (store and resume) else None
            if done is not None and done.get("status") == "ok" and model is not None:
                why = explain(done, measurement_fingerprint(model, request, settings))
                if why is None:
                    records.append(done)
                    if on_record:
                        on_record(done)
                    continue
                tell(f"{name} (batch {request['batch_size']}): measured again, as {why}")
            pending.append(request)
        if on_start:
            on_start(name, len(pending))
        for request in pending:
            record = base_record(request, device, notes)
            if settings.optimize:
                record.update(optimized_fields())
            phases = Phases()
            try:
                if model is None:
                    raise build_error
                record.update(measurement_fingerprint(model, request, settings))
                if costs is None:
                    costs = _ModelCosts(model, request, settings.metrics, model_phases, settings.flop_cache)
                _fill_costs(record, costs)
                if {"latency", "memory"} & set(settings.metrics):
                    measured = build_for_measurement(request, device, model)
                    _measure_batch(record, measured, request, settings, device, phases, supply)
            except Exception as error:  # recorded, and the run goes on
                _failure(record, error)
                if device.type == "cuda":
                    torch.cuda.empty_cache()
            # the model's shared phases (build, params, FLOPs) are counted in its first record only
            record["phase_s"] = {**model_phases.seconds, **phases.seconds}
            model_phases = Phases()
            if store is not None:
                store.put(record)
            records.append(record)
            if on_record:
                on_record(record)
        del model


def _remeasure_unstable(records: list[dict], settings: ProfileSettings, device: torch.device,
                        store: RecordStore | None, tell: Callable[[str], None]) -> None:
    """Judge every latency of the run against the run's fastest machine probe, time each
    unstable one once more (the record keeps both), and judge again."""
    changed = judge_stability(records)
    for record in unstable_records(records):
        if record.get("first_latency") is not None or record.get("status") != "ok":
            continue  # re-measured already (a record kept by --resume)
        request = measurement_request(record["model"], settings, record["batch_size"], device)
        tell(f"{record['model']} (batch {record['batch_size']}): latency unstable "
             f"({instability(record, records)}), measuring it again")
        first = {k: record[k] for k in ("latency_ms", "latency_iqr_ms", "latency_runs", "machine_load",
                                        "latency_iqr_ok", "machine_busy", "cpu_share")}
        try:
            start = time.perf_counter()
            _, _, run = build_for_measurement(request, device)
            _time_latency(record, run, request, settings, device)
            record["phase_s"] = {**(record.get("phase_s") or {}),
                                 "remeasure": round(time.perf_counter() - start, 3)}
        except Exception as error:  # the first figures stay; the reason is noted
            record["notes"].append(f"re-measuring the unstable latency failed: {type(error).__name__}: {error}")
        record["first_latency"] = first
        _fill_rates(record)
        changed.append(record)
    changed += judge_stability(records)
    if store is not None:
        for record in {id(r): r for r in changed}.values():
            store.put(record)
