"""Videos/s of `vbench eval` under each DataLoader setting (workers x prefetch).

    PYTHONPATH=. python benchmarks/eval_loader.py                       # 12 generated UCF101-like videos
    PYTHONPATH=. python benchmarks/eval_loader.py --presets 1x1 --model tsm_r50

The default model is a stand-in that costs almost nothing (a linear layer on the mean
of each view), so the figures are what the loader delivers when the model is not the
bottleneck (a GPU); ``--model`` times a real one (random weights) on the CPU. Each
setting is one full ``evaluate`` run; settings are interleaved over ``--repeats`` rounds
and the median of the record's videos/s is reported (after one untimed warm-up run).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
from pathlib import Path

import torch
from data_pipeline import write_realistic_video

from vbench.evaluation.engine import EvalSettings, evaluate
from vbench.models import registry

SETTINGS = [(0, None), (1, 2), (1, 4), (2, 2), (2, 4)]


class MeanProbe(torch.nn.Module):
    """Scores a view from its per-channel mean: the loader, not the model, sets the pace."""

    def __init__(self, num_classes: int = 2):
        super().__init__()
        self.fc = torch.nn.Linear(3, num_classes)

    def forward(self, x):
        return self.fc(x.mean(dim=(2, 3, 4)))


def loader_probe(num_classes: int = 2, num_frames: int = 8):
    return MeanProbe(num_classes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=12)
    parser.add_argument("--presets", default="1x1,kinetics-10x3")
    parser.add_argument("--model", default="loader_probe")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    registry.register_model(method="loader probe", paper="-", year=2000, frames=8)(loader_probe)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        for i in range(args.videos):
            write_realistic_video(root / f"v{i:02d}.avi", 175, (320, 240), "mpeg4", i)
        (root / "test.txt").write_text("".join(f"v{i:02d}.avi {i % 2}\n" for i in range(args.videos)))
        (root / "classes.txt").write_text("a\nb\n")
        print(f"{args.videos} UCF101-like videos (320x240 mpeg4, 175 frames), model {args.model}, "
              f"{torch.get_num_threads()} torch threads in the main process; median of {args.repeats} rounds")
        print(f"{'protocol':14s} {'workers':>7s} {'prefetch':>8s} {'videos/s':>9s}")
        for preset in args.presets.split(","):
            warm_up = EvalSettings(dataset="list", model=args.model, root=str(root), protocol=preset, workers=0,
                                   device="cpu", out=str(root / f"out-{preset}-warm-up"), limit=2,
                                   dataset_options={"test_list": "test.txt", "classes_file": "classes.txt"})
            evaluate(warm_up)  # imports, first allocations: not part of any setting's time
            rates: dict[tuple, list[float]] = {s: [] for s in SETTINGS}
            for round_, (workers, prefetch) in itertools.product(range(args.repeats), SETTINGS):
                settings = EvalSettings(dataset="list", model=args.model, root=str(root), protocol=preset,
                                        workers=workers, prefetch=prefetch or 2, device="cpu",
                                        out=str(root / f"out-{preset}-{workers}-{prefetch}-{round_}"),
                                        dataset_options={"test_list": "test.txt", "classes_file": "classes.txt"})
                record = evaluate(settings)
                rates[(workers, prefetch)].append(args.videos / record["time_s"])
            for (workers, prefetch), values in rates.items():
                print(f"{preset:14s} {workers:7d} {prefetch or '-':>8} {statistics.median(values):9.2f}", flush=True)


if __name__ == "__main__":
    main()
