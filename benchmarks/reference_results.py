"""Regenerate the reference results committed in results/: one command.

    python benchmarks/reference_results.py [--out results]

Profiles every model of the zoo at its default setting on this machine (CPU when there
is no GPU), then writes the efficiency report, the per-dataset comparison reports with
the papers' reported accuracy, and the charts. Resumable: a killed run picks up where it
stopped (``--resume`` on the profile; a record whose fingerprint no longer fits the code is
measured again). The reference is made from a clean tree: with uncommitted changes the
script stops, unless ``--allow-dirty`` (the records then say ``dirty: true``).
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
    args = parser.parse_args()
    if git_state()[1] and not args.allow_dirty:
        raise SystemExit("the source tree has uncommitted changes: commit them first (the reference records say "
                         "which revision made them), or pass --allow-dirty")
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
