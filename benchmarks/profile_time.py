"""How long `vbench profile --all` takes, and where the time goes: a cold run, then a cached one.

    PYTHONPATH=. python benchmarks/profile_time.py [--out results/profile-time/now]
    PYTHONPATH=. python benchmarks/profile_time.py --summarise results/profile-time/before-6567acd

Runs `vbench profile --all` twice as a user would (a fresh process each, wall clock
including Python's start): first with an empty FLOP cache (a temporary
``$VBENCH_CACHE``), then again with the counts the first run stored. Both runs' records
go to ``OUT/cold`` and ``OUT/cached``; ``OUT/README.md`` gives the wall times, each phase's
total (build, params, FLOP count, latency, memory, re-measure: the records' ``phase_s``),
and checks that the cached run gave the same params and GFLOPs to the digit.
``--summarise`` rewrites the README of an existing folder (from its records and the wall
times kept in ``OUT/wall.json``, whose ``made_by`` names another command that made them). Run it on a quiet machine: latency is most of the time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PHASES = ("build", "params", "flops", "latency", "memory", "remeasure")


def run_profile(out: Path, cache: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vbench", "profile", "--all", "--out", str(out)], check=True,
                   env=dict(os.environ, VBENCH_CACHE=str(cache)), stdout=subprocess.DEVNULL)
    return round(time.perf_counter() - start, 1)


def phase_totals(records: list[dict]) -> dict[str, float]:
    return {p: round(sum((r.get("phase_s") or {}).get(p, 0.0) for r in records), 1) for p in PHASES}


def summarise(out: Path) -> str:
    wall = json.loads((out / "wall.json").read_text())
    runs = {name: json.loads((out / name / "profile.json").read_text()) for name in ("cold", "cached")}
    first = runs["cold"][0]
    lines = [f"# `vbench profile --all`: where the time goes ({out.name})", "",
             f"Made by {wall.get('made_by') or f'`python benchmarks/profile_time.py --out {out}`'} at vbench "
             f"{first['git_rev']} "
             f"(dirty: {first['dirty']}), {first['time']}, on {first['device_name']}.", "",
             "| run | wall s | records | FLOPs cached | " + " | ".join(f"{p} s" for p in PHASES) + " |",
             "|---|---:|---:|---:|" + "---:|" * len(PHASES)]
    for name, records in runs.items():
        totals = phase_totals(records)
        cached = sum(bool(r.get("flops_cached")) for r in records)
        lines.append(f"| {name} | {wall[name]} | {len(records)} | {cached} | "
                     + " | ".join(str(totals[p]) for p in PHASES) + " |")
    cold = {r["model"]: r for r in runs["cold"]}
    same = all((cold[r["model"]]["params_m"], cold[r["model"]]["gflops"]) == (r["params_m"], r["gflops"])
               for r in runs["cached"])
    ratios = [r["latency_ms"] / cold[r["model"]]["latency_ms"] for r in runs["cached"] if r.get("latency_ms")]
    lines += ["", f"Params and GFLOPs of the cached run equal the cold run's to the digit: {same}. "
              f"Latency, cached run / cold run: median {statistics.median(ratios):.3f}, "
              f"{min(ratios):.3f} to {max(ratios):.3f} over {len(ratios)} models. "
              "The phases are the records' `phase_s` (what `--verbose` prints); the wall time adds "
              "Python's start, the imports and writing the tables."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/profile-time/now"))
    parser.add_argument("--summarise", type=Path, help="only rewrite the README of this folder")
    args = parser.parse_args()
    if args.summarise:
        (args.summarise / "README.md").write_text(summarise(args.summarise))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as cache:
        wall = {"cold": run_profile(args.out / "cold", Path(cache))}
        print(f"cold run: {wall['cold']} s", flush=True)
        wall["cached"] = run_profile(args.out / "cached", Path(cache))
        print(f"cached run: {wall['cached']} s", flush=True)
    (args.out / "wall.json").write_text(json.dumps(wall) + "\n")
    (args.out / "README.md").write_text(summarise(args.out))
    print((args.out / "README.md").read_text())


if __name__ == "__main__":
    main()
