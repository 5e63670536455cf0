"""vbench against every official implementation it has been checked on: logits, then latency.

    PYTHONPATH=. python benchmarks/official_speed.py --official-root /work/official
    PYTHONPATH=. python benchmarks/official_speed.py --tsm PATH --tea PATH ... [--only tsm_r50,tea_r50]

For each pair (the builders are the per-model scripts' ``pair`` functions: same weights,
same input) the script checks the logits, then times vbench and the official code
alternately (the order swapped every round, batch 1, fp32, torch's threads as set) until
the median of the per-round ratios vbench / official is known to +-0.03 (95% interval of
the median), or the pair's time budget or round limit is spent. The machine's load is
taken before and after (load average, a matmul probe) and the CPU share each pair's
timing got. Writes ``results/official-speed.md`` and ``.json``.

A checkout that is not given (or not found under ``--official-root``) skips its pairs
with a line saying so; torchvision's R(2+1)D-18 and VMZ's R(2+1)D-34 need none.
``--quick`` (smaller inputs where the model takes them, 2 rounds) checks that everything
runs; its table is not a measurement.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _official import Pair  # noqa: E402

# option name -> the official repository's folder name (as cloned)
REPOSITORIES = {
    "tsm": "temporal-shift-module",
    "tea": "tea-action-recognition",
    "eca": "ECANet",
    "tada": "TAdaConv",
    "tcp": "Temporal-attentive-Covariance-Pooling-Networks-for-Video-Recognition",
    "ean": "EAN-Pytorch",
    "bqn": "busy-quiet-net",
    "p3d": "pseudo-3d-pytorch",
}


@dataclass(frozen=True)
class PairSpec:
    """One comparison: vbench's model, the repository it is checked against, how to build both."""

    name: str
    repository: str | None  # a key of REPOSITORIES; None: torchvision's code, always at hand
    official: str  # what the official side is, for the table
    build: Callable[[Path | None, bool], Pair]  # (checkout, quick) -> Pair


def _tsn_tsm(shift: bool):
    def build(checkout, quick):
        from compare_official_tsm import pair
        return pair(str(checkout), shift=shift, size=112 if quick else 224)
    return build


def _tea(checkout, quick):
    from tea_official import pair
    return pair(checkout, size=112 if quick else 224)


def _eca(checkout, quick):
    from eca_official import pair
    return pair(str(checkout))  # the official ResNet ends in a fixed 7x7 pool: 224 only


def _tada(checkout, quick):
    from tada2d_official import pair
    return pair(checkout, size=128 if quick else 256)


def _tcp(tsm: bool):
    def build(checkout, quick):
        from tcp_official import pair
        return pair(str(checkout), tsm=tsm, size=112 if quick else 224)
    return build


def _ean_bqn(method: str):
    def build(checkout, quick):
        from ean_bqn_official import pair
        return pair(method, str(checkout))  # EAN's patch split and BQN's filters take their own sizes only
    return build


def _p3d(checkout, quick):
    from p3d_vs_port import pair
    return pair(checkout)  # the port takes 16x160x160 only


def _r2plus1d(depth: int):
    def build(checkout, quick):
        from r2plus1d_vs_torchvision import pair
        return pair(depth, frames=8 if quick else None)
    return build


PAIRS = (
    PairSpec("tsn_r50", "tsm", "mit-han-lab/temporal-shift-module TSN", _tsn_tsm(False)),
    PairSpec("tsm_r50", "tsm", "mit-han-lab/temporal-shift-module TSN(is_shift)", _tsn_tsm(True)),
    PairSpec("tea_r50", "tea", "Phoenix1327/tea-action-recognition tea50_8f", _tea),
    PairSpec("eca_r50", "eca", "BangguWu/ECANet eca_resnet50", _eca),
    PairSpec("tada2d_r50", "tada", "alibaba-mmai-research/TAdaConv BaseVideoModel", _tada),
    PairSpec("tcp_tsn_r50", "tcp", "TCP ops.models.TSN(TCP=True)", _tcp(False)),
    PairSpec("tcp_tsm_r50", "tcp", "TCP ops.models.TSN(TCP=True) + official shift", _tcp(True)),
    PairSpec("ean_r50", "ean", "EAN-Pytorch EAN_8f", _ean_bqn("ean")),
    PairSpec("bqn_r50", "bqn", "busy-quiet-net bqn_resnet_reverse", _ean_bqn("bqn")),
    PairSpec("p3d_r199", "p3d", "qijiezhao/pseudo-3d-pytorch P3D199 (vbench reference='port')", _p3d),
    PairSpec("r2plus1d_r18", None, "torchvision r2plus1d_18 (vbench midplanes='per_block')", _r2plus1d(18)),
    PairSpec("r2plus1d_r34", None, "VMZ R(2+1)D-34 from torchvision's parts", _r2plus1d(34)),
)


# ---- the stopping rule and the interval (pure: tested on synthetic timings) ----

def median_interval(values: list[float], confidence: float = 0.95) -> tuple[float, float] | None:
    """Distribution-free interval of the median: order statistics (j, n+1-j) with the
    largest j whose binomial coverage is at least ``confidence``; None below 6 values."""
    n = len(values)
    ordered = sorted(values)
    tail, best = 0.0, None
    for j in range(1, n // 2 + 1):
        tail += math.comb(n, j - 1) / 2 ** n  # P(Binomial(n, 1/2) <= j - 1)
        if 1 - 2 * tail < confidence:
            break
        best = j
    return None if best is None else (ordered[best - 1], ordered[n - best])


@dataclass(frozen=True)
class StoppingRule:
    """When the timing of a pair has run long enough: at least ``min_rounds``; then until the
    median ratio's interval lies within +-``half_width`` of it, ``budget_s`` is spent, or
    ``max_rounds`` are done."""

    min_rounds: int = 9
    max_rounds: int = 60
    half_width: float = 0.03
    budget_s: float = 240.0
    confidence: float = 0.95

    def reason_to_stop(self, ratios: list[float], elapsed_s: float) -> str | None:
        n = len(ratios)
        if n >= self.max_rounds:
            return f"round limit ({self.max_rounds})"
        if n < self.min_rounds:
            return None
        interval = median_interval(ratios, self.confidence)
        if interval is not None and half_width(statistics.median(ratios), interval) <= self.half_width:
            return f"interval within +-{self.half_width:g}"
        if elapsed_s >= self.budget_s:
            return f"time budget ({self.budget_s:g} s)"
        return None


def half_width(median: float, interval: tuple[float, float] | None) -> float:
    return math.inf if interval is None else max(median - interval[0], interval[1] - median)


@dataclass
class PairResult:
    """One pair's figures, as the table and the JSON record carry them."""

    name: str
    official: str
    inputs: str
    max_logit_diff: float
    vbench_ms: list[float] = field(default_factory=list)
    official_ms: list[float] = field(default_factory=list)
    stopped: str = ""
    cpu_share: float | None = None

    @property
    def ratios(self) -> list[float]:
        return [v / o for v, o in zip(self.vbench_ms, self.official_ms)]

    def summary(self, confidence: float = 0.95) -> dict:
        ratios = self.ratios
        interval = median_interval(ratios, confidence)
        return {"runs": len(ratios), "vbench_ms": statistics.median(self.vbench_ms),
                "official_ms": statistics.median(self.official_ms), "ratio": statistics.median(ratios),
                "ratio_interval": interval}


def time_alternately(vbench_run: Callable[[], object], official_run: Callable[[], object], rule: StoppingRule,
                     warmup: int = 1, clock: Callable[[], float] = time.perf_counter
                     ) -> tuple[list[float], list[float], str]:
    """Per-round ms of each side, timed in alternation (who goes first swaps every round)
    until ``rule`` says stop; the reason it stopped."""
    runs = {"vbench": vbench_run, "official": official_run}
    times: dict[str, list[float]] = {"vbench": [], "official": []}
    with torch.inference_mode():
        for _ in range(warmup):
            for run in runs.values():
                run()
        start = clock()
        while True:
            order = ("vbench", "official") if len(times["vbench"]) % 2 == 0 else ("official", "vbench")
            for side in order:
                begin = clock()
                runs[side]()
                times[side].append((clock() - begin) * 1e3)
            ratios = [v / o for v, o in zip(times["vbench"], times["official"])]
            reason = rule.reason_to_stop(ratios, clock() - start)
            if reason:
                return times["vbench"], times["official"], reason


# ---- the table ----

def render_markdown(record: dict) -> str:
    """The table of ``record`` (the JSON this script writes) as markdown."""
    machine, load, rule = record["machine"], record["load"], record["rule"]
    lines = [
        "# vbench against the official implementations: CPU latency",
        "",
        f"Measured {record['date']} on {machine['cpu']}, {machine['cpu_count']} logical CPUs, "
        f"torch {machine['torch']}, vbench {machine['git_rev']}"
        f"{' (dirty tree)' if machine.get('dirty') else ''}, by `{record['command']}`.",
        "",
        f"Load: 1-minute load average {load['before']['loadavg_1m']} before, {load['after']['loadavg_1m']} after; "
        f"matmul probe {load['before']['matmul_gmacs']} GMAC/s before, {load['after']['matmul_gmacs']} after.",
        "",
        "Batch 1, fp32, same weights and input on both sides; vbench and official timed alternately "
        f"(the order swapped every round), at least {rule['min_rounds']} rounds, until the "
        f"{rule['confidence']:.0%} interval of the median ratio lies within +-{rule['half_width']:g}, "
        f"or {rule['budget_s']:g} s, or {rule['max_rounds']} rounds. Ratio = vbench / official, "
        "the median of the per-round ratios (below 1: vbench is faster).",
    ]
    if record.get("quick"):
        lines += ["", "**Quick run (smaller inputs, 2 rounds): it checks that the script works, it measures nothing.**"]
    lines += ["", "| model | official | input | runs | vbench ms | official ms | ratio | 95% interval "
                  "| CPU share | max logit diff | stopped by |",
              "|---|---|---|---:|---:|---:|---:|---|---:|---:|---|"]
    for row in record["pairs"]:
        interval = row["ratio_interval"]
        shown = f"{interval[0]:.3f} - {interval[1]:.3f}" if interval else "n/a (< 6 runs)"
        share = "" if row["cpu_share"] is None else f"{row['cpu_share']:.2f}"
        lines.append(f"| {row['name']} | {row['official']} | {row['inputs']} | {row['runs']} | "
                     f"{row['vbench_ms']:.1f} | {row['official_ms']:.1f} | {row['ratio']:.3f} | {shown} | "
                     f"{share} | {row['max_logit_diff']:.2g} | {row['stopped']} |")
    if record.get("skipped"):
        lines += ["", "Not measured:", ""] + [f"- {row['name']}: {row['why']}" for row in record["skipped"]]
    return "\n".join(lines) + "\n"


# ---- the run ----

def find_checkouts(args: argparse.Namespace) -> dict[str, Path | None]:
    """Each repository's checkout: its own option, else its folder under ``--official-root``."""
    found = {}
    for key, folder in REPOSITORIES.items():
        given = getattr(args, key)
        if given is None and args.official_root is not None:
            given = args.official_root / folder
        found[key] = Path(given) if given is not None and Path(given).is_dir() else None
    return found


def measure(spec: PairSpec, checkout: Path | None, rule: StoppingRule, quick: bool) -> PairResult:
    from vbench.profiling.load import measure_cpu_share

    built = spec.build(checkout, quick)
    result = PairResult(spec.name, spec.official, built.inputs, built.max_logit_diff)
    (result.vbench_ms, result.official_ms, result.stopped), result.cpu_share = measure_cpu_share(
        lambda: time_alternately(built.vbench, built.official, rule))
    return result


def machine_description() -> dict:
    from vbench.environment import provenance
    from vbench.runtime.device import device_name

    stamp = provenance()
    return {"cpu": device_name(torch.device("cpu")), "cpu_count": stamp["cpu_count"], "platform": platform.platform(),
            "torch": stamp["torch"], "python": stamp["python"], "git_rev": stamp["git_rev"], "dirty": stamp["dirty"],
            "threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official-root", type=Path, help="a folder holding the checkouts under their own names")
    for key, folder in REPOSITORIES.items():
        parser.add_argument(f"--{key}", type=Path, help=f"checkout of {folder}")
    parser.add_argument("--only", help="comma-separated model names (default: every pair)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--min-rounds", type=int, default=StoppingRule.min_rounds)
    parser.add_argument("--max-rounds", type=int, default=StoppingRule.max_rounds)
    parser.add_argument("--half-width", type=float, default=StoppingRule.half_width)
    parser.add_argument("--budget", type=float, default=StoppingRule.budget_s, help="seconds of timing per pair")
    parser.add_argument("--quick", action="store_true", help="smaller inputs, 2 rounds: a check, not a measurement")
    parser.add_argument("--out", type=Path, default=Path("results/official-speed"),
                        help="writes OUT.md and OUT.json (default results/official-speed)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    names = [spec.name for spec in PAIRS]
    wanted = args.only.split(",") if args.only else names
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        raise SystemExit(f"unknown pair(s) {', '.join(unknown)}: choose among {', '.join(names)}")
    rule = StoppingRule(2, 2, args.half_width, args.budget) if args.quick else StoppingRule(
        args.min_rounds, args.max_rounds, args.half_width, args.budget)
    checkouts = find_checkouts(args)

    from vbench.environment import now
    from vbench.profiling.load import machine_load

    record = {"date": now(), "command": " ".join(["python", *sys.argv]), "quick": args.quick,
              "machine": machine_description(), "rule": asdict(rule), "pairs": [], "skipped": []}
    load_before = machine_load(torch.device("cpu"))
    for spec in PAIRS:
        if spec.name not in wanted:
            continue
        checkout = checkouts[spec.repository] if spec.repository else None
        if spec.repository and checkout is None:
            why = f"no checkout of {REPOSITORIES[spec.repository]} (give --{spec.repository} or --official-root)"
            print(f"{spec.name}: skipped, {why}", flush=True)
            record["skipped"].append({"name": spec.name, "why": why})
            continue
        try:
            result = measure(spec, checkout, rule, args.quick)
        except Exception as error:  # one broken official build must not cost the other pairs' figures
            why = f"failed: {type(error).__name__}: {' '.join(str(error).split())[:300]}"
            print(f"{spec.name}: {why}", flush=True)
            record["skipped"].append({"name": spec.name, "why": why})
            continue
        row = {"name": result.name, "official": result.official, "inputs": result.inputs,
               "max_logit_diff": result.max_logit_diff, "stopped": result.stopped, "cpu_share": result.cpu_share,
               **result.summary(rule.confidence), "vbench_runs_ms": result.vbench_ms,
               "official_runs_ms": result.official_ms}
        record["pairs"].append(row)
        print(f"{row['name']}: max |logit diff| {row['max_logit_diff']:.2g}; {row['runs']} rounds ({row['stopped']}): "
              f"vbench {row['vbench_ms']:.1f} ms, official {row['official_ms']:.1f} ms, ratio {row['ratio']:.3f}, "
              f"CPU share {row['cpu_share']}", flush=True)
    record["load"] = {"before": load_before, "after": machine_load(torch.device("cpu"))}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(render_markdown(record))
    print(f"wrote {args.out.with_suffix('.md')} and {args.out.with_suffix('.json')}")
    if any(s["why"].startswith("failed") for s in record["skipped"]):
        raise SystemExit("some pairs failed to build or run: see the lines above")


if __name__ == "__main__":
    main()
