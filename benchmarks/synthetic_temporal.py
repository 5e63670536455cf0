"""The synthetic temporal benchmark: every video method of the zoo, one recipe, one seed.

    python benchmarks/synthetic_temporal.py [--epochs 16] [--seeds 0] [--out results/synthetic]
        [--motion scale] [-m NAME ...]

Each model is trained on vbench's ``synthetic`` dataset (8 frames of 32x32 rendered at
that size, 128 videos a class for training and 128 for testing, five motion classes, 16
epochs) at depth 18 (one model per method of the zoo, see ``video_models``), with
``vbench train``'s recipe and the same seed, then profiled at the same input. The script
prints overall top-1 and the accuracy on the four direction classes, where a model blind
to frame order is at chance (50% on each left/right and up/down pair), and writes the
report and the accuracy-vs-GFLOPs chart through ``vbench report`` / ``vbench plot``. With
``--dreal`` it also trains every model that has attention modules with DREAL, for the
plain-vs-DREAL comparison. ``--motion scale --epochs 8 --out results/synthetic-scale``
runs the second benchmark as recorded (static, growing, shrinking: motion that changes a
frame's global statistics), where the order classes are growing and shrinking.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from pathlib import Path

import vbench
from vbench.data.datasets.synthetic import MOTION_CLASSES
from vbench.models.registry import list_models, model_catalogue, model_info
from vbench.profiling.runner import ProfileSettings, profile
from vbench.reporting.report import write_plots, write_report
from vbench.training.engine import TrainSettings, train

# for each motion, the classes an order-blind model cannot tell apart from their reversal: all but static
ORDER_CLASSES = {motion: tuple(c for c in classes if c != "static") for motion, classes in MOTION_CLASSES.items()}
# models that read several frames per segment: the same 8 segments, their frames per segment
FRAMES_PER_SEGMENT = {"ean_r50": 5, "ean_r18": 5, "bqn_r50": 3, "bqn_r18": 3}
MIN_SIZE = {"bqn_r50": 96, "bqn_r18": 96}  # BQN's low-resolution quiet pathway needs 96 px or more


def video_models() -> list[str]:
    """One model per method of the zoo at depth 18: its depth-18 member, or its fixed-depth 18 build.

    A method's other fixed depths (P3D-131/199, R(2+1)D-34) are left out, and so are
    torchvision's reference builds (``tv_*``: R3D-18, MC3-18 and its own R(2+1)D-18), which
    ``-m`` still takes.
    """
    names = []
    for name in list_models():
        info = model_info(name)
        if info.input != "video" or info.task != "action recognition" or name.startswith("tv_"):
            continue
        if info.depths:
            if 18 in info.depths:
                names.append(vbench.models.registry.resolve_depth(name, 18))
        elif re.search(r"(?<!\d)18$", name):
            names.append(name)
    return sorted(names)


def clip_input(name: str, frames: int, size: int) -> tuple[int, int]:
    """(frames, size) a model reads at the benchmark's setting: its frames per segment, its minimum size."""
    return frames * FRAMES_PER_SEGMENT.get(name, 1), max(size, MIN_SIZE.get(name, 0))


def has_attention(name: str, frames: int) -> bool:
    from vbench.models.attention import attention_modules

    return bool(attention_modules(vbench.create_model(name, num_classes=5, num_frames=frames)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", action="append", help="models (default: one model per method of the zoo at depth 18)")
    parser.add_argument("--epochs", type=int, default=16,
                        help="16: R(2+1)D sits near chance on the translations for six epochs before it learns "
                             "(measured); 8 epochs stop it on that plateau")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--videos-per-class", type=int, default=128)
    parser.add_argument("--motion", choices=tuple(ORDER_CLASSES), default="translate",
                        help="translate: static/left/right/up/down; scale: static/growing/shrinking")
    parser.add_argument("--dreal", action="store_true", help="also train the models with attention with DREAL")
    parser.add_argument("--out", type=Path, default=Path("results/synthetic"))
    args = parser.parse_args()
    models = args.model or video_models()
    rows = []
    for name in models:
        frames, size = clip_input(name, args.frames, args.size)
        variants = [False] + ([True] if args.dreal and has_attention(name, frames) else [])
        for dreal in variants:
            for seed in args.seeds:
                settings = TrainSettings(dataset="synthetic", model=name, epochs=args.epochs, frames=frames,
                                         size=size, short_side=size, seed=seed, dreal=dreal,
                                         out=str(args.out), resume=True,
                                         # the default motion is left out so that earlier runs keep their ids
                                         dataset_options={"videos_per_class": args.videos_per_class, "size": size,
                                                          **({"motion": args.motion} if args.motion != "translate"
                                                             else {})})
                try:
                    record = train(settings, on_note=print)
                except Exception as error:  # a model that cannot train at this setting is reported, not fatal
                    print(f"{name}: failed: {error}")
                    continue
                per_class = record["per_class_top1"] or {}
                direction = statistics.mean(per_class[c] for c in ORDER_CLASSES[args.motion]
                                            if per_class.get(c) is not None)
                rows.append({"model": name, "frames": frames, "size": size, "dreal": dreal, "seed": seed,
                             "top1": record["top1"],
                             "direction_top1": round(direction, 2), "time_s": record["time_s"]})
                print(json.dumps(rows[-1]))
    for name in sorted({r["model"] for r in rows}):
        frames, size = clip_input(name, args.frames, args.size)
        profile([name], ProfileSettings(frames=frames, size=(size, size),
                                        num_classes=len(MOTION_CLASSES[args.motion]), metrics=("params", "flops")),
                out_dir=args.out, resume=True)
    catalogue = model_catalogue()
    write_report(args.out, dataset="synthetic", sort="top1", include_reported=False, catalogue=catalogue)
    write_plots(args.out, dataset="synthetic", kinds=("gflops",), include_reported=False, catalogue=catalogue)
    print(f"\n| model | input | DREAL | seeds | top-1 | {'/'.join(ORDER_CLASSES[args.motion])} top-1 |"
          "\n|---|---|---|---|---|---|")
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["model"], row["dreal"]), []).append(row)
    for (name, dreal), group in groups.items():
        top1 = [r["top1"] for r in group]
        direction = [r["direction_top1"] for r in group]
        spread = lambda v: f" ± {statistics.stdev(v):.1f}" if len(v) > 1 else ""  # noqa: E731
        print(f"| {name} | {group[0]['frames']}x{group[0]['size']}x{group[0]['size']} | {'yes' if dreal else 'no'} | "
              f"{len(group)} | {statistics.mean(top1):.1f}{spread(top1)} | "
              f"{statistics.mean(direction):.1f}{spread(direction)} |")


if __name__ == "__main__":
    main()
