"""GPU acceptance: vbench's GPU measurements, checked against invariants, in under 8 minutes.

    python benchmarks/gpu_acceptance.py [--out results/gpu] [--models tsm_r50,tea_r50] [--budget 480]
    python benchmarks/gpu_acceptance.py --dry-run        # the plan and its time estimate, on any machine

On one CUDA GPU it measures every model of the zoo with vbench's own path
(``build_for_measurement``, ``measure_latency``, ``cuda_peak_memory``) in fp32, fp16
and bf16 at batch 1, 8 and 32 (a batch that runs out of memory ends that sweep), then in
fp16 with channels-last, then compiled, and checks each measurement
(``vbench.profiling.acceptance``): CUDA-event median within 5% of a synchronised
wall-clock median; peak memory at least weights + input and below the device's total;
fp16/bf16 (and channels-last, compiled) logits within tolerance of the fp32 ones on the
same input; clips/s rising with the batch until saturation; ``cudnn.benchmark`` set
alike for every measurement; the first timed run not an outlier (warm-up long enough).

Budget: the full grid would take most of an hour (a compile is tens of seconds), so
``vbench.profiling.acceptance_plan`` orders the measurements by importance (the
precision x batch sweep of every model, then channels-last, then compiles, one model of
each kind first) and keeps those whose estimated cost (from each model's GFLOPs in
``results/profile.json``, an assumed GPU rate, 45 s a compile) fits in 480 s less a
60 s margin; ``--dry-run`` prints it. While running, a deadline skips whatever the
estimate got wrong (recorded as not reached), so the run ends in time on a slower GPU.

Writes under ``--out``: ``acceptance.json/.csv/.md`` (one profile-style record a
measurement, with its checks), ``report.md`` (the checks, the throughput table, what
was skipped and why) and ``throughput_vs_batch.png``. Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch

from vbench.environment import provenance
from vbench.models.registry import create_model, list_models, model_info
from vbench.profiling import acceptance as checks
from vbench.profiling.acceptance_plan import (BUDGET_S, TIMING_CAP_S, WALL_RUNS, WARMUP_RUNS, Config, Plan,
                                              gflops_from_records, plan_lines, plan_run)
from vbench.results import RecordStore

NEEDS_CUDA = ("gpu_acceptance.py needs a CUDA GPU and torch.cuda.is_available() is False here: run it on a GPU "
              "machine, or pass --dry-run to print its plan")
RECORD_KEY = ("model", "batch_size", "precision", "channels_last", "compile")
REPORT_S = 30.0  # kept free at the end for the report and the chart
MIB = 1 << 20


def request_for(config: Config) -> dict:
    info = model_info(config.model)
    return {"model": config.model, "frames": info.frames if info.input == "video" else None,
            "size": list(info.size), "batch_size": config.batch_size, "num_classes": info.num_classes,
            "device": "cuda", "precision": config.precision, "channels_last": config.channels_last,
            "compile": config.compile, "threads": torch.get_num_threads()}


def group_of(record: dict) -> tuple:
    """A batch sweep: the same model, precision, layout and compilation."""
    return record["model"], record["precision"], record["channels_last"], record["compile"]


def measure(model: torch.nn.Module, request: dict, device: torch.device) -> tuple[dict, torch.Tensor]:
    """One configuration through vbench's GPU path, with the figures the checks need.
    ``model`` waits on the CPU and goes back there: the peak memory counter sees every
    allocation on the device, so only the measured model may be on it."""
    try:
        return _measure(model, request, device)
    finally:
        model.cpu()


def _measure(model: torch.nn.Module, request: dict, device: torch.device) -> tuple[dict, torch.Tensor]:
    from vbench.profiling.execution import build_for_measurement
    from vbench.profiling.memory import cuda_peak_memory
    from vbench.profiling.timing import measure_latency

    if request["channels_last"]:
        model = copy.deepcopy(model)  # the layout is changed in place; the sweep's model stays as built
    if request["compile"]:
        torch._dynamo.reset()
    torch.manual_seed(0)  # the same input for every configuration of a shape: logits compare
    model, inputs, run = build_for_measurement(request, device, model)
    # no warm-up of our own: measure_latency's is on trial (the warm-up check judges it)
    latency = measure_latency(run, device, warmup=WARMUP_RUNS, budget_s=TIMING_CAP_S)
    wall = []
    for _ in range(WALL_RUNS):
        start = time.perf_counter()
        run()  # synchronises before returning
        wall.append((time.perf_counter() - start) * 1e3)
    memory = cuda_peak_memory(run, device)
    logits = run().float().cpu()
    weights = sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])
    figures = {
        "latency_ms": round(latency.median_ms, 4), "latency_iqr_ms": round(latency.iqr_ms, 4),
        "latency_runs": latency.runs, "timing_method": latency.method, "times_ms": latency.times_ms,
        "wall_median_ms": round(statistics.median(wall), 4),
        "throughput": round(request["batch_size"] / (latency.median_ms / 1e3), 3),
        "peak_memory_mb": round(memory.mib, 1), "memory_method": memory.method,
        "weights_mb": round(weights / MIB, 2), "input_mb": round(inputs.numel() * inputs.element_size() / MIB, 2),
        "cudnn_benchmark": torch.backends.cudnn.benchmark, "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
    }
    return figures, logits


def record_checks(record: dict, logits: torch.Tensor | None, reference: torch.Tensor | None,
                  device_total: float) -> list[checks.Check]:
    """The invariants of one measurement."""
    found = [checks.event_matches_wall(record["latency_ms"], record["wall_median_ms"]),
             checks.peak_memory_plausible(record["peak_memory_mb"] * MIB, record["weights_mb"] * MIB,
                                          record["input_mb"] * MIB, device_total),
             checks.warmup_sufficient(record["times_ms"])]
    variant = record["precision"] != "fp32" or record["channels_last"] or record["compile"]
    if variant and logits is not None and reference is not None:
        diff = (logits - reference).abs().max().item()
        record["logit_max_abs_diff"] = diff
        found.append(checks.logits_close(diff, reference.abs().max().item(), record["precision"]))
    return found


def run_plan(plan: Plan, device: torch.device, out: Path, budget_s: float, clock=time.perf_counter) -> list[dict]:
    """Measure the plan's configurations in order, each record saved as it is made."""
    from vbench.profiling.records import base_record, profile_markdown

    torch.backends.cudnn.benchmark = True  # autotuned convolutions, as deployed; warm-up covers the tuning
    device_total = torch.cuda.get_device_properties(device).total_memory
    store = RecordStore(out, "acceptance", RECORD_KEY, profile_markdown)
    deadline = clock() + budget_s - REPORT_S
    models: dict[str, torch.nn.Module] = {}  # built once, kept on the CPU
    references: dict[tuple[str, int], torch.Tensor] = {}
    out_of_memory: set[tuple] = set()
    records = []
    for config in plan.configs:
        request = request_for(config)
        record = base_record(request, device, [])
        record.update(tier=config.tier, planned_s=round(plan.estimate_s[config], 2), checks=[])
        started = clock()
        if started + plan.estimate_s[config] > deadline:
            record.update(status="skipped", error=f"not reached within the {budget_s:.0f} s budget")
        elif group_of(record) in out_of_memory:
            record.update(status="skipped", error="out of memory at a smaller batch")
        else:
            try:
                if config.model not in models:
                    models[config.model] = create_model(config.model).eval()  # on the CPU until measured
                figures, logits = measure(models[config.model], request, device)
                record.update(figures)
                if not (config.precision != "fp32" or config.channels_last or config.compile):
                    references[(config.model, config.batch_size)] = logits
                reference = references.get((config.model, config.batch_size))
                record["checks"] = [c.as_dict() for c in record_checks(record, logits, reference, device_total)]
            except torch.cuda.OutOfMemoryError:
                record.update(status="skipped", error="out of memory")
                out_of_memory.add(group_of(record))
            except Exception as error:  # recorded; the run goes on
                text = str(error).strip().splitlines()
                record.update(status="failed", error=f"{type(error).__name__}: {text[0] if text else ''}"[:300])
            torch.cuda.empty_cache()
        record["spent_s"] = round(clock() - started, 2)
        store.put(record)
        records.append(record)
        print(f"{config.model} {config.precision} b{config.batch_size}{' cl' if config.channels_last else ''}"
              f"{' compiled' if config.compile else ''}: {record['status']} {record.get('latency_ms')} ms "
              f"{record.get('error') or ''}", flush=True)
    return records


def run_checks(records: list[dict]) -> list[dict]:
    """The checks across measurements: throughput against batch, the cuDNN setting."""
    sweeps: dict[tuple, dict[int, float]] = defaultdict(dict)
    for r in records:
        if r["status"] == "ok":
            sweeps[group_of(r)][r["batch_size"]] = r["throughput"]
    found = []
    for (model, precision, channels_last, compiled), points in sweeps.items():
        check = checks.throughput_rises_until_saturation(points)
        label = f"{model} {precision}{' channels-last' if channels_last else ''}{' compiled' if compiled else ''}"
        found.append({**check.as_dict(), "name": f"{check.name}: {label}"})
    flags = [r["cudnn_benchmark"] for r in records if r["status"] == "ok"]
    found.append(checks.cudnn_benchmark_consistent(flags, expected=True).as_dict())
    return found


def report_markdown(records: list[dict], run_checks_found: list[dict], wall_s: float, budget_s: float) -> str:
    """The report: where it ran, the checks, clips/s by batch, what was skipped."""
    ok = [r for r in records if r["status"] == "ok"]
    every = [c for r in ok for c in r["checks"]] + run_checks_found
    by_name: dict[str, list[bool]] = defaultdict(list)
    for c in every:
        by_name[c["name"].split(":")[0]].append(c["passed"])
    where = provenance()
    device = ok[0]["device_name"] if ok else "no measurement"
    lines = [f"# GPU acceptance on {device}", "",
             f"{where.get('time')}, vbench {where.get('vbench')} at {where.get('git_rev')}, torch "
             f"{torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}; "
             f"{len(ok)} of {len(records)} measurements made in {wall_s:.0f} s (budget {budget_s:.0f} s).", "",
             "| Check | Passed | Failed |", "|---|---|---|"]
    lines += [f"| {name} | {sum(v)} | {len(v) - sum(v)} |" for name, v in by_name.items()]
    failed = [(r, c) for r in ok for c in r["checks"] if not c["passed"]]
    failed += [(None, c) for c in run_checks_found if not c["passed"]]
    lines += ["", f"## Failed checks ({len(failed)})", ""]
    for r, c in failed:
        where_ = f"{r['model']} {r['precision']} batch {r['batch_size']}" + \
                 (" channels-last" if r["channels_last"] else "") + (" compiled" if r["compile"] else "") if r else ""
        lines.append(f"- {c['name']}{': ' + where_ if where_ else ''}: {c['reason']}")
    lines += ["", "## Clips/s by batch (eager, contiguous)", "",
              "| Model | " + " | ".join(f"{p} b{b}" for p in ("fp32", "fp16", "bf16") for b in (1, 8, 32)) + " |",
              "|---|" + "---|" * 9]
    table: dict[str, dict[tuple, float]] = defaultdict(dict)
    for r in ok:
        if not r["channels_last"] and not r["compile"]:
            table[r["model"]][(r["precision"], r["batch_size"])] = r["throughput"]
    for model, cells in sorted(table.items()):
        lines.append(f"| {model} | " + " | ".join(f"{cells[(p, b)]:.1f}" if (p, b) in cells else "-"
                                                  for p in ("fp32", "fp16", "bf16") for b in (1, 8, 32)) + " |")
    variants = [r for r in ok if r["channels_last"] or r["compile"]]
    if variants:
        lines += ["", "## Channels-last and compiled (fp16)", "", "| Model | Batch | Layout | Compiled | Latency ms | "
                  "Clips/s | Spent s |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['model']} | {r['batch_size']} | {'channels-last' if r['channels_last'] else 'contiguous'} | "
                  f"{'yes' if r['compile'] else 'no'} | {r['latency_ms']:.2f} | {r['throughput']:.1f} | "
                  f"{r['spent_s']:.1f} |" for r in variants]
    skipped = [r for r in records if r["status"] != "ok"]
    lines += ["", f"## Not measured ({len(skipped)})", ""]
    lines += [f"- {r['model']} {r['precision']} batch {r['batch_size']}: {r['status']}: {r['error']}" for r in skipped]
    return "\n".join(lines) + "\n"


def write_chart(records: list[dict], path: Path) -> Path | None:
    """Clips/s against batch, one panel a precision, one line a model (eager, contiguous)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in records if r["status"] == "ok" and not r["channels_last"] and not r["compile"]]
    if not ok:
        return None
    precisions = [p for p in ("fp32", "fp16", "bf16") if any(r["precision"] == p for r in ok)]
    fig, axes = plt.subplots(1, len(precisions), figsize=(5 * len(precisions), 4.5), squeeze=False, sharey=True)
    for ax, precision in zip(axes[0], precisions):
        curves: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for r in ok:
            if r["precision"] == precision:
                curves[r["model"]].append((r["batch_size"], r["throughput"]))
        for model, points in sorted(curves.items()):
            points.sort()
            ax.plot([b for b, _ in points], [t for _, t in points], marker="o", label=model)
        ax.set(xscale="log", yscale="log", xlabel="batch size (clips)", title=precision)
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("clips/s")
    axes[0][-1].legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(f"Throughput vs batch on {ok[0]['device_name']}")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/gpu"))
    parser.add_argument("--models", default="", help="comma-separated (default: every model of the zoo)")
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="seconds for the whole run")
    parser.add_argument("--profile", type=Path, default=Path("results/profile.json"),
                        help="profile records whose GFLOPs size the plan")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and its estimate; measure nothing")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    names = [m.strip() for m in args.models.split(",") if m.strip()] or list_models()
    unknown = sorted(set(names) - set(list_models()))
    if unknown:
        print(f"unknown model(s) {', '.join(unknown)}: see `vbench models`", file=sys.stderr)
        return 2
    plan = plan_run(names, gflops_from_records(args.profile), args.budget)
    if args.dry_run:
        print("\n".join(plan_lines(plan)))
        return 0
    if not torch.cuda.is_available():
        print(NEEDS_CUDA, file=sys.stderr)
        return 2
    records = run_plan(plan, torch.device("cuda"), args.out, args.budget)
    found = run_checks(records)
    report = report_markdown(records, found, time.perf_counter() - started, args.budget)
    (args.out / "report.md").write_text(report)
    write_chart(records, args.out / "throughput_vs_batch.png")
    failed = sum(not c["passed"] for r in records for c in r["checks"]) + sum(not c["passed"] for c in found)
    print(f"{len(records)} measurements, {failed} failed checks, {time.perf_counter() - started:.0f} s; "
          f"written to {args.out}/")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
