"""The profile record: its key, its fields, the conventions its figures follow, and how
records read as tables (Markdown file, terminal). The runner fills records; this module
says what they are, so that rendering and the memory probe need not import the runner.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from vbench.environment import provenance
from vbench.models.registry import model_info
from vbench.runtime.device import device_name
from vbench.profiling.execution import execution_of

RECORD_KEY = ("model", "frames", "size", "batch_size", "num_classes", "device", "precision",
              "channels_last", "compile")
FLOPS_CONVENTION = ("GFLOPs = multiply-accumulates (fvcore + vbench handles), per view (one clip, batch 1), "
                    "BatchNorm included; elementwise ops counted apart")
CPU_SHARE_MIN = 0.8  # a quiet 2-core machine gives 0.98, two busy processes beside it 0.49
BUSY_FRACTION = 0.5  # GPU: the matmul probe against the run's fastest (quiet ones vary by ~30%)
STABILITY_RULE = (f"stable when the latency IQR is at most 10% of its median and the machine was not busy: on the "
                  f"CPU the timing got at least {CPU_SHARE_MIN:.0%} of its threads' processor time, on a GPU the "
                  f"matmul probe just before and after ran at {BUSY_FRACTION:.0%} or more of the run's fastest "
                  f"(a steady load slows every run alike, which the IQR alone does not see)")


def record_key(request: dict) -> dict:
    """The fields of a record that identify it, from a measurement request."""
    h, w = request["size"]
    return {**{k: request[k] for k in RECORD_KEY if k != "size"}, "size": f"{h}x{w}"}


def base_record(request: dict, device: torch.device, notes: list[str]) -> dict:
    """A record with every field, the measured ones empty, and the run's provenance."""
    info = model_info(request["model"])
    h, w = request["size"]
    return {
        "model": request["model"], "method": info.method, "family": info.family, "input": info.input,
        "frames": request["frames"], "size": f"{h}x{w}", "batch_size": request["batch_size"],
        "num_classes": request["num_classes"], "depth": info.depth,
        "input_shape": list(info.input_shape(request["batch_size"], request["frames"], (h, w))),
        "params_m": None, "gflops": None, "gflops_without_bn": None, "gflops_by_op": None,
        "elementwise_gops": None, "gflops_dispatch": None, "uncounted_ops": None, "flops_cached": None,
        "flops_convention": FLOPS_CONVENTION,
        "latency_ms": None, "latency_iqr_ms": None, "latency_runs": None, "timing_method": None,
        "latency_stable": None, "latency_iqr_ok": None, "machine_busy": None, "cpu_share": None,
        "stability_rule": None,
        "machine_load": None, "first_latency": None,
        "throughput": None, "achieved_gflops_per_s": None, "device_peak_gflops_per_s": None, "peak_fraction": None,
        "peak_memory_mb": None, "memory_method": None,
        "device": device.type, "device_name": device_name(device), "precision": request["precision"],
        "channels_last": request["channels_last"], "compile": request["compile"],
        "execution": execution_of(request, device), "threads": torch.get_num_threads(),
        "reported_key": info.reported_key, "model_source": info.source,
        "reconstruction": info.reconstruction, "status": "ok", "error": None, "notes": list(notes),
        "fingerprint": None, "fingerprint_parts": None, "phase_s": None, **provenance(),
    }


OPTIMIZED_CONVENTION = ("Optimised: BatchNorm folded into the conv feeding it (exact pairs only, checked on "
                        "logits), channels-last and torch.compile each where a timing in the run found it not slower "
                        "(compile time apart), inference mode (the eager column runs under it too); "
                        "speedup = median of per-round eager / optimised time, the two timed alternately; "
                        "max logit diff = largest |optimised - eager| logit on the same input, beside the eager model's own |float32 - float64| gap; params, GFLOPs and "
                        "peak memory are of the eager model")


def optimized_fields() -> dict:
    """The fields an ``--optimize`` record adds to ``base_record``'s, empty."""
    return {"optimize": True, "optimizations": None, "bn_folded": None, "batchnorms": None,
            "channels_last_trial": None, "compiled": None, "compile_error": None, "compile_s": None,
            "compile_warmup_calls": None, "compile_trial": None,
            "max_logit_diff": None, "eager_fp64_diff": None,
            "optimized_latency_ms": None, "optimized_latency_iqr_ms": None,
            "optimized_latency_runs": None, "optimized_timing_method": None, "optimized_cpu_share": None,
            "optimized_latency_stable": None, "optimized_throughput": None, "speedup": None,
            "speedup_iqr": None, "speedup_method": None,
            "optimized_convention": OPTIMIZED_CONVENTION}


def unstable_records(records: Sequence[dict]) -> list[dict]:
    """Records whose latency broke the stability rule (after any re-measurement)."""
    return [r for r in records if r.get("latency_stable") is False]


def _probe_floor(record: dict) -> float | None:
    load = record.get("machine_load") or {}
    probes = [side.get("matmul_gmacs") for side in (load.get("before"), load.get("after")) if side]
    return min(probes) if probes and None not in probes else None


def judge_stability(records: Sequence[dict]) -> list[dict]:
    """Set ``machine_busy`` and ``latency_stable`` of every timed record against the
    fastest probe among them; returns the records whose verdict changed."""
    floors = [f for f in map(_probe_floor, records) if f is not None]
    best = max(floors, default=None)
    changed = []
    for record in records:
        floor, share = _probe_floor(record), record.get("cpu_share")
        if record.get("latency_iqr_ok") is None or (share is None and floor is None):
            continue
        busy = share < CPU_SHARE_MIN if share is not None else floor < BUSY_FRACTION * best
        verdict = (busy, record["latency_iqr_ok"] and not busy)
        if (record.get("machine_busy"), record.get("latency_stable")) != verdict:
            record["machine_busy"], record["latency_stable"] = verdict
            changed.append(record)
    return changed


def instability(record: dict, records: Sequence[dict]) -> str:
    """Why a record's latency is unstable, in words."""
    reasons = []
    if not record.get("latency_iqr_ok"):
        reasons.append(f"IQR {record['latency_iqr_ms']:.1f} of {record['latency_ms']:.1f} ms")
    if record.get("machine_busy") and record.get("cpu_share") is not None:
        reasons.append(f"machine busy: the timing got {record['cpu_share']:.0%} of its threads' processor time")
    elif record.get("machine_busy"):
        best = max(f for f in map(_probe_floor, records) if f is not None)
        reasons.append(f"machine busy: matmul probe {_probe_floor(record):.1f} GMAC/s against the run's best "
                       f"{best:.1f}")
    return "; ".join(reasons)


UNSTABLE_MARK = "!"
DIRTY_MARK = "*"
UNSTABLE_LEGEND = (f"{UNSTABLE_MARK} unstable latency ({STABILITY_RULE}), even after a second measurement at the "
                   "end of the run: a busy machine or too short a --time-budget; see cpu_share and machine_load "
                   "in profile.json.")
DIRTY_LEGEND = f"{DIRTY_MARK} measured from a source tree with uncommitted changes (dirty)."
LEGACY_LEGEND = ("legacy record: made before vbench stored fingerprints; its time and revision may be those of a "
                 "later resume rather than of the measurement.")


def _num(value, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def latency_cell(record: dict) -> str:
    if record.get("latency_ms") is None:
        return "-"
    mark = UNSTABLE_MARK if record.get("latency_stable") is False else ""
    return f"{record['latency_ms']:.1f} ({record['latency_iqr_ms']:.1f}){mark}"


def optimized_latency_cell(record: dict) -> str:
    if record.get("optimized_latency_ms") is None:
        return "-"
    mark = UNSTABLE_MARK if record.get("optimized_latency_stable") is False else ""
    return f"{record['optimized_latency_ms']:.1f} ({record['optimized_latency_iqr_ms']:.1f}){mark}"


def optimizations_cell(record: dict) -> str:
    """What the optimised column did, short: BN folded, channels-last, compiled or why not."""
    if record.get("optimizations") is None:
        return "-"
    parts = [f"BN {record['bn_folded']}/{record['batchnorms']} folded"] if record.get("batchnorms") else []
    if "channels_last" in record["optimizations"]:
        parts.append("channels-last")
    if record.get("compiled"):
        parts.append("compiled")
    elif (record.get("compile_trial") or {}).get("kept") is False:
        parts.append("compiled, not kept: slower")
    else:
        parts.append("not compiled (compile_error)")
    return ", ".join(parts)


def profile_rows(records: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Column names and formatted cells, one row a record; ``--optimize`` records add the
    optimised latency, the speedup, the logit difference and what was done."""
    optimized = any(r.get("optimize") for r in records)
    columns = ["Model", "Input", "Batch", "Params (M)", "GFLOPs/view", "Latency ms (IQR)",
               "Clips/s", "Peak mem (MiB)", "Device", "Precision", "Status"]
    if optimized:
        columns[6:6] = ["Optimised ms (IQR)", "Speedup", "Max logit diff", "fp32 vs fp64", "Optimisations"]
    rows = []
    for r in records:
        frames = f"{r['frames']}x" if r.get("frames") else ""
        status = r["status"] if r["status"] == "ok" else f"{r['status']}: {r.get('error') or ''}"
        status += " (legacy record)" if r.get("legacy") else ""
        name = r["model"] + (" [reconstruction]" if r.get("reconstruction") else "")
        name += DIRTY_MARK if r.get("dirty") else ""
        row = [name, f"{frames}{r['size']}", str(r["batch_size"]), _num(r.get("params_m"), 2),
               _num(r.get("gflops"), 2), latency_cell(r), _num(r.get("throughput"), 2),
               _num(r.get("peak_memory_mb"), 0), r.get("device_name") or r["device"], r["precision"], status]
        if optimized:
            diff, rounding = r.get("max_logit_diff"), r.get("eager_fp64_diff")
            row[6:6] = [optimized_latency_cell(r), _num(r.get("speedup"), 2) + ("x" if r.get("speedup") else ""),
                        "-" if diff is None else f"{diff:.1e}", "-" if rounding is None else f"{rounding:.1e}",
                        optimizations_cell(r)]
        rows.append(row)
    return columns, rows


def legend_for(records: list[dict]) -> str:
    """The legend lines for the marks these records carry (empty when none)."""
    parts = []
    if any(r.get("latency_stable") is False or r.get("optimized_latency_stable") is False for r in records):
        parts.append(UNSTABLE_LEGEND)
    if any(r.get("dirty") for r in records):
        parts.append(DIRTY_LEGEND)
    if any(r.get("legacy") for r in records):
        parts.append(LEGACY_LEGEND)
    return " ".join(parts)


def profile_markdown(records: list[dict]) -> str:
    columns, rows = profile_rows(records)
    escape = lambda cell: cell.replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    caption = (f"{FLOPS_CONVENTION}. Latency: median (interquartile range) of one forward pass of the batch; "
               "peak memory: see each record's memory_method in profile.json.")
    if any(r.get("optimize") for r in records):
        caption += f" {OPTIMIZED_CONVENTION}."
    legend = legend_for(records)
    return "\n".join(lines) + "\n\n" + caption + "\n" + (f"\n{legend}\n" if legend else "")


PHASES = ("build", "params", "flops", "latency", "memory", "optimize", "remeasure")


def phase_rows(records: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Seconds spent in each phase, one row a model (its batch sizes added up), and a total row."""
    per_model: dict[str, dict[str, float]] = {}
    for r in records:
        seconds = per_model.setdefault(r["model"], {})
        for phase, value in (r.get("phase_s") or {}).items():
            seconds[phase] = seconds.get(phase, 0.0) + value
    columns = ["Model", *(p.capitalize() + " s" for p in PHASES), "Total s"]
    totals = {p: sum(m.get(p, 0.0) for m in per_model.values()) for p in PHASES}
    rows = [[name, *(f"{m.get(p, 0.0):.1f}" for p in PHASES), f"{sum(m.values()):.1f}"]
            for name, m in [*per_model.items(), ("all", totals)]]
    return columns, rows
