"""Regenerate the reference results committed in results/: one command.

    python benchmarks/reference_results.py [--out results]

Profiles every model of the zoo at its default setting on this machine (CPU when there
is no GPU), then writes the efficiency report, the per-dataset comparison reports with
the papers' reported accuracy, and the charts. Resumable: a killed run picks up where it
stopped (``--resume`` on the profile; a record whose fingerprint no longer fits the code is
measured again). The reference is made from a clean tree: with uncommitted changes the
script stops, unless ``--allow-dirty`` (the records then say ``dirty: true``).

    python benchmarks/reference_results.py --optimize [--out results]

Instead profiles every model eager and deploy-mode (``vbench profile --optimize``: BN
folded, channels-last where not slower, torch.compile, inference mode) into
``profile-optimized.json/.csv/.md``, leaving profile.json and the reports as they are.
Params, GFLOPs and latency only (peak memory is the eager model's, in profile.json);
each model adds its torch.compile time (111 s for tsm_r50 on this 2-core CPU while
shared with other jobs).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vbench.environment import git_state
from vbench.errors import VbenchError
from vbench.models.registry import model_catalogue
from vbench.profiling.runner import ProfileSettings, profile
from vbench.reporting.report import write_plots, write_report

DATASETS = ("sthv1", "sthv2", "kinetics400", "ucf101", "hmdb51", "jester", "diving48", "mars", "imagenet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results"))
    parser.add_argument("--time-budget", type=float, default=10.0)
    parser.add_argument("--allow-dirty", action="store_true", help="write records from a tree with changes")
    parser.add_argument("--optimize", action="store_true", help="eager and deploy-mode latency into "
                        "profile-optimized.*, nothing else")
    args = parser.parse_args()
    if git_state()[1] and not args.allow_dirty:
        raise SystemExit("the source tree has uncommitted changes: commit them first (the reference records say "
                         "which revision made them), or pass --allow-dirty")
    if args.optimize:
        settings = ProfileSettings(time_budget_s=args.time_budget, optimize=True,
                                   metrics=("params", "flops", "latency"))
        records = profile(None, settings, out_dir=args.out, resume=True,
                          on_record=lambda r: print(f"{r['model']}: {r['status']} eager {r.get('latency_ms')} ms, "
                                                    f"optimised {r.get('optimized_latency_ms')} ms "
                                                    f"({r.get('speedup')}x, {r.get('optimizations')}, max logit "
                                                    f"diff {r.get('max_logit_diff')})", flush=True),
                          on_note=lambda text: print(f"note: {text}", flush=True))
        print(f"{len(records)} records in {args.out}/profile-optimized.json")
        return
    records = profile(None, ProfileSettings(time_budget_s=args.time_budget), out_dir=args.out, resume=True,
                      on_record=lambda r: print(f"{r['model']}: {r['status']} {r.get('gflops')} GFLOPs "
                                                f"{r.get('latency_ms')} ms", flush=True),
                      on_note=lambda text: print(f"note: {text}", flush=True))
    print(f"{len(records)} profile records")
    catalogue = model_catalogue()
    write_report(args.out, catalogue=catalogue)
    if len({r["batch_size"] for r in records}) > 1:
        write_plots(args.out, kinds=("batch",), catalogue=catalogue)
    for dataset in DATASETS:
        try:
            write_report(args.out, dataset=dataset, sort="method", catalogue=catalogue)
            write_plots(args.out, dataset=dataset, kinds=("gflops", "latency"), catalogue=catalogue)
        except VbenchError as error:  # a dataset with no accuracy rows to show
            print(f"{dataset}: {error}")


if __name__ == "__main__":
    main()
