"""Which measurements ``benchmarks/gpu_acceptance.py`` makes, fitted to its time budget.

The full grid (every model x 3 precisions x 3 batch sizes x with/without channels-last x
with/without compile) would take most of an hour, compiles above all (tens of seconds
each). So the plan is a priority list, cut where a cost model says the budget ends:

1. ``sweep``: every model in fp32, fp16 and bf16 at batch 1, 8 and 32 (eager,
   contiguous): batch-1 latency, the throughput-vs-batch curve, the logit checks.
2. ``layout``: every model in fp16 with channels-last at batch 1 and 32.
3. ``compile``: fp16, channels-last, ``torch.compile`` at batch 1, one model of each
   kind first (2D trunk, 3D, attention), then the others, while the budget lasts.

The cost of a measurement is estimated from the model's GFLOPs per clip and an assumed
effective rate of the GPU (``RATE_GMACS``, below a modern datacenter GPU's peak, since
video convolutions reach a fraction of it), with a floor for kernel launches; each
compile is ``COMPILE_S``. The script also keeps a deadline while it runs, so a slower
GPU skips the tail of the list (recorded as not reached) instead of overrunning.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

PRECISIONS = ("fp32", "fp16", "bf16")
BATCHES = (1, 8, 32)
LAYOUT_BATCHES = (1, 32)
BUDGET_S = 480.0  # the whole run, on one modern GPU
MARGIN_S = 60.0  # torch import and CUDA start, report and chart, and the estimate's error
BUILD_S = 2.0  # building a model on the CPU and moving it to the GPU
CONFIG_OVERHEAD_S = 0.6  # allocation, cuDNN autotuning of a new shape, Python around the passes
COMPILE_S = 45.0  # torch.compile (inductor) of one model at one shape
RATE_GMACS = {"fp32": 20_000.0, "fp16": 60_000.0, "bf16": 60_000.0}
LAUNCH_FLOOR_S = 0.004  # a ResNet-50's ~200 kernel launches at batch 1
WARMUP_RUNS = 5
WALL_RUNS = 7  # the synchronised wall-clock timing beside the CUDA events
EXTRA_RUNS = 2  # the memory pass and the logit pass
TIMING_CAP_S = 1.0  # the CUDA-event timing's budget (it stops earlier once its IQR is within 5%)
DEFAULT_GFLOPS = 60.0  # a model without a profile record
COMPILE_FIRST = ("tsm_r50", "r2plus1d_r34", "tea_r50")  # a 2D trunk, a 3D model, one with attention


@dataclass(frozen=True)
class Config:
    model: str
    precision: str
    batch_size: int
    channels_last: bool = False
    compile: bool = False
    tier: str = "sweep"


@dataclass
class Plan:
    configs: list[Config]
    estimate_s: dict[Config, float]
    left_out: list[tuple[Config, str]] = field(default_factory=list)
    budget_s: float = BUDGET_S

    @property
    def total_s(self) -> float:
        """Estimated seconds of the whole run: builds, measurements and the margin."""
        return len({c.model for c in self.configs}) * BUILD_S + sum(self.estimate_s.values()) + MARGIN_S

    def summary(self) -> list[dict]:
        tiers: dict[str, dict] = {}
        for config in self.configs:
            row = tiers.setdefault(config.tier, {"tier": config.tier, "configs": 0, "models": set(), "seconds": 0.0})
            row["configs"] += 1
            row["models"].add(config.model)
            row["seconds"] += self.estimate_s[config]
        return [{**row, "models": len(row["models"]), "seconds": round(row["seconds"], 1)} for row in tiers.values()]


def config_seconds(config: Config, gflops: float) -> float:
    """Estimated seconds of one measurement (compile included)."""
    forward = max(LAUNCH_FLOOR_S, gflops * config.batch_size / RATE_GMACS[config.precision])
    timed = max(5 * forward, min(TIMING_CAP_S, 15 * forward))
    seconds = CONFIG_OVERHEAD_S + forward * (WARMUP_RUNS + WALL_RUNS + EXTRA_RUNS) + timed
    return seconds + (COMPILE_S if config.compile else 0.0)


def candidates(models: Sequence[str]) -> list[Config]:
    """Every measurement the run would like, most important first."""
    sweep = [Config(m, p, b) for b in BATCHES for p in PRECISIONS for m in models]
    layout = [Config(m, "fp16", b, channels_last=True, tier="layout") for b in LAYOUT_BATCHES for m in models]
    order = [m for m in COMPILE_FIRST if m in models] + [m for m in models if m not in COMPILE_FIRST]
    compiled = [Config(m, "fp16", 1, channels_last=True, compile=True, tier="compile") for m in order]
    return sweep + layout + compiled


def plan_run(models: Sequence[str], gflops: Mapping[str, float], budget_s: float = BUDGET_S) -> Plan:
    """The measurements that fit in ``budget_s``, in the order they run."""
    plan = Plan([], {}, budget_s=budget_s)
    spent = MARGIN_S
    built: set[str] = set()
    for config in candidates(models):
        cost = config_seconds(config, gflops.get(config.model, DEFAULT_GFLOPS))
        cost_with_build = cost + (BUILD_S if config.model not in built else 0.0)
        if spent + cost_with_build > budget_s:
            plan.left_out.append((config, f"over the {budget_s:.0f} s budget (estimated {cost:.1f} s)"))
            continue
        plan.configs.append(config)
        plan.estimate_s[config] = cost
        built.add(config.model)
        spent += cost_with_build
    return plan


def gflops_from_records(path: Path) -> dict[str, float]:
    """GFLOPs per clip of each model from a profile.json (batch-1 records), for the estimate."""
    try:
        records = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return {r["model"]: r["gflops"] for r in records
            if isinstance(r, dict) and r.get("gflops") and r.get("batch_size") == 1}


def plan_lines(plan: Plan) -> list[str]:
    """The plan in words (``--dry-run``)."""
    lines = [f"{len(plan.configs)} measurements of {len({c.model for c in plan.configs})} models, estimated "
             f"{plan.total_s:.0f} s of a {plan.budget_s:.0f} s budget (builds {BUILD_S:g} s a model, margin "
             f"{MARGIN_S:g} s):"]
    for row in plan.summary():
        lines.append(f"  {row['tier']:8} {row['configs']:4} configs, {row['models']:3} models, {row['seconds']:7.1f} s")
    if plan.left_out:
        tiers = sorted({c.tier for c, _ in plan.left_out})
        lines.append(f"  left out: {len(plan.left_out)} configs ({', '.join(tiers)}), over the budget")
    for config in plan.configs:
        lines.append("    " + json.dumps({k: v for k, v in asdict(config).items()}) +
                     f"  ~{plan.estimate_s[config]:.1f} s")
    return lines
