"""vbench's label placer against adjustText on the reference charts.

Draws every accuracy chart ``vbench plot`` draws for the reference run (``results/``: K400,
SSv1, SSv2, MARS, ImageNet; ``results/synthetic``) once with each placer and prints, per
chart: label-label overlaps, label-marker overlaps (a label over any marker, its own
included), label-legend overlaps, labels outside the axes, and the time to place. Text boxes
come from the renderer after a full draw; a marker's box is the square around its circle
(the placer's own model of a marker).

adjustText is not a vbench dependency: ``pip install adjustText`` to run this.

    PYTHONPATH=. python benchmarks/label_placement.py [--repeats 3] [--tuned]
"""

from __future__ import annotations

import argparse
import functools
import time
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.transforms import Bbox

from vbench.models.registry import model_catalogue
from vbench.reporting import plots
from vbench.reporting.comparison import build_comparison
from vbench.reporting.report import load_results

CHARTS = [("results", "K400"), ("results", "SSv1"), ("results", "SSv2"), ("results", "MARS"),
          ("results", "ImageNet"), ("results/synthetic", "synthetic")]
VBENCH_PLACER = plots.place_labels


def marker_boxes(ax) -> list[Bbox]:
    """Display box of each point's marker (one scatter collection a point; ``s`` is an area in points^2)."""
    to_px = ax.figure.dpi / 72.0
    boxes = []
    for collection in ax.collections:
        (cx, cy), = ax.transData.transform(collection.get_offsets())
        r = collection.get_sizes()[0] ** 0.5 / 2 * to_px
        boxes.append(Bbox([[cx - r, cy - r], [cx + r, cy + r]]))
    return boxes


# Stronger repulsion and wider boxes than adjustText's defaults (--tuned).
TUNED = {"expand": (1.3, 1.6), "force_text": (0.3, 0.6), "force_static": (0.3, 0.6)}


def adjust_text_placer(ax, points, labels, *, weights=None, fontsize=8, options=None):
    """adjustText with the same inputs: a text at each point, repelled by the markers and the legend."""
    from adjustText import adjust_text

    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    weights = weights or ["normal"] * len(labels)
    texts = [ax.text(x, y, label, fontsize=fontsize, fontweight=weight)
             for (x, y, _), label, weight in zip(points, labels, weights)]
    markers = marker_boxes(ax)
    legend = ax.get_legend()
    objects = markers + ([legend.get_window_extent(renderer)] if legend is not None else [])
    objects = [box.transformed(ax.transData.inverted()) for box in objects]  # adjustText takes data boxes
    adjust_text(texts, objects=objects, ax=ax, arrowprops={"arrowstyle": "-", "color": "0.55", "lw": 0.6},
                **(options or {}))
    return texts


def measure(fig, texts) -> dict[str, int]:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    boxes = [plots.label_box(t, renderer) for t in texts]
    markers = marker_boxes(ax)
    frame = ax.get_window_extent(renderer)
    legend = ax.get_legend()
    legend_box = legend.get_window_extent(renderer) if legend is not None else None
    return {
        "labels": len(boxes),
        "label-label": sum(int(boxes[i].overlaps(boxes[j])) for i in range(len(boxes))
                           for j in range(i + 1, len(boxes))),
        "label-marker": sum(int(b.overlaps(m)) for b in boxes for m in markers),
        "label-legend": sum(bool(legend_box and b.overlaps(legend_box)) for b in boxes),
        "outside": sum(not (frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1)
                       for b in boxes),
    }


def chart(folder: str, dataset: str, kind: str, placer, catalogue) -> tuple[dict, float] | None:
    profile, evals = load_results(Path(folder))
    rows = build_comparison(profile, evals, dataset=dataset, catalogue=catalogue)
    metric = "map" if any(r.map is not None for r in rows) and not any(r.top1 is not None for r in rows) else "top1"
    x_of = (lambda r: r.gflops) if kind == "gflops" else (lambda r: r.latency_ms)
    if not any(getattr(r, metric) is not None and x_of(r) is not None for r in rows):
        return None
    placed: dict = {}

    def timed(ax, points, labels, **kwargs):
        start = time.perf_counter()
        placed["texts"] = placer(ax, points, labels, **kwargs)
        placed["seconds"] = time.perf_counter() - start
        return placed["texts"]

    plots.place_labels = timed
    try:
        draw = plots.accuracy_vs_gflops if kind == "gflops" else plots.accuracy_vs_latency
        fig = draw(rows, dataset, metric=metric)
    finally:
        plots.place_labels = VBENCH_PLACER
    figures = measure(fig, placed["texts"])
    plt.close(fig)
    return figures, placed["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timing: the median of this many placements")
    parser.add_argument("--tuned", action="store_true", help=f"adjustText with {TUNED}, not its defaults")
    args = parser.parse_args()
    catalogue = model_catalogue()
    placers = {"vbench": VBENCH_PLACER,
               "adjustText": functools.partial(adjust_text_placer, options=TUNED if args.tuned else None)}
    header = f"{'chart':<20} {'placer':<11} {'labels':>6} {'lab-lab':>7} {'lab-mark':>8} {'lab-leg':>7} " \
             f"{'outside':>7} {'time s':>7}"
    print(header)
    totals = {name: [0, 0, 0, 0, 0, 0.0] for name in placers}
    for folder, dataset in CHARTS:
        for kind in ("gflops", "latency"):
            for name, placer in placers.items():
                runs = [chart(folder, dataset, kind, placer, catalogue) for _ in range(args.repeats)]
                if runs[0] is None:
                    break
                figures = runs[0][0]
                seconds = sorted(r[1] for r in runs)[len(runs) // 2]
                print(f"{dataset + ' ' + kind:<20} {name:<11} {figures['labels']:>6} {figures['label-label']:>7} "
                      f"{figures['label-marker']:>8} {figures['label-legend']:>7} {figures['outside']:>7} "
                      f"{seconds:>7.2f}")
                total = totals[name]
                for k, key in enumerate(("labels", "label-label", "label-marker", "label-legend", "outside")):
                    total[k] += figures[key]
                total[5] += seconds
    for name, total in totals.items():
        print(f"{'all charts':<20} {name:<11} {total[0]:>6} {total[1]:>7} {total[2]:>8} {total[3]:>7} "
              f"{total[4]:>7} {total[5]:>7.2f}")


if __name__ == "__main__":
    main()
