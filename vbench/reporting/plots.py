"""Paper-style charts: accuracy vs GFLOPs, accuracy vs latency, throughput vs batch size.

Matplotlib with the Agg backend (no display needed). One point per model and setting;
bubble area grows with params; one colour per method family; filled markers for accuracy
vbench measured, hollow ones for accuracy a paper reported; the marker's shape is the
status of the point's least trusted figure (``STATUS_MARKERS``: a circle when measured or
verified in the source, a square, triangle or diamond when read in a secondary source,
unverified or derived), with a legend entry per shape; each label at the nearest free
spot around its point, inside the axes (a leader line where it had to move away).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from vbench.reporting.comparison import ComparisonRow  # noqa: E402

PALETTE = plt.get_cmap("tab10").colors
# Least trusted first wins: a point is as trustworthy as the weaker of its two figures.
STATUS_ORDER = ("measured", "verified", "secondary", "unverified", "derived")
STATUS_MARKERS = {"measured": "o", "verified": "o", "secondary": "s", "unverified": "^", "derived": "D"}
STATUS_LEGEND = {"o": "measured, or verified in the source", "s": "secondary source", "^": "unverified",
                 "D": "derived (not printed)"}


def point_status(*statuses: str | None) -> str:
    """The weaker of a point's figure statuses (None: a figure vbench measured)."""
    return max((s or "measured" for s in statuses), key=STATUS_ORDER.index)


def _family_colours(rows: Iterable[ComparisonRow]) -> dict[str, tuple]:
    families = sorted({r.family or r.method for r in rows})
    return {f: PALETTE[i % len(PALETTE)] for i, f in enumerate(families)}


def _label(row: ComparisonRow) -> str:
    frames = f" {row.frames}f" if row.frames else ""
    views = f" x{row.num_views}" if row.num_views and row.num_views > 1 else ""
    return f"{row.method}{frames}{views}"


def _labels(rows: list[ComparisonRow]) -> list[str]:
    """Point labels; where two points would read the same, the backbone and pre-training tell them apart."""
    base = [_label(r) for r in rows]
    labels = []
    for row, text in zip(rows, base):
        if base.count(text) > 1:
            extra = [part for part in (row.backbone, row.pretrain) if part and part != "-"]
            if not extra and row.model and len({r.model for r, t in zip(rows, base) if t == text}) > 1:
                extra.append(row.model)  # one method on several vbench models (tcp_tsn_r18, tcp_tsm_r18)
            if row.accuracy_source == "measured":
                extra.append("vbench")
            text += f" ({', '.join(extra)})" if extra else ""
        labels.append(text)
    alike = list(labels)
    seen: dict[str, int] = {}
    for i, text in enumerate(alike):  # still alike (e.g. RGB and flow rows of one table): number them
        if alike.count(text) > 1:
            seen[text] = seen.get(text, 0) + 1
            labels[i] = f"{text} #{seen[text]}"
    return labels


_GRID_STEP_PT = 3  # spacing of the candidate spots for a label, over the whole axes
_LEADER_PT = 8  # a label further than this from its marker gets a leader line


def _box_point_distances(boxes: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Display distance from each point (P, 2) to each box (M, 4: x0, y0, x1, y1), (M, P); 0 inside."""
    x, y = points[None, :, 0], points[None, :, 1]
    dx = np.maximum(np.maximum(boxes[:, 0, None] - x, x - boxes[:, 2, None]), 0)
    dy = np.maximum(np.maximum(boxes[:, 1, None] - y, y - boxes[:, 3, None]), 0)
    return np.hypot(dx, dy)


def _overlap_counts(boxes: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """For each candidate box, how many taken boxes it overlaps."""
    if not len(taken):
        return np.zeros(len(boxes), dtype=int)
    b, t = boxes[:, None, :], taken[None, :, :]
    hit = (b[..., 0] < t[..., 2]) & (b[..., 2] > t[..., 0]) & (b[..., 1] < t[..., 3]) & (b[..., 3] > t[..., 1])
    return hit.sum(axis=1)


def place_labels(ax, points: list[tuple[float, float, float]], labels: list[str], *,
                 weights: list[str] | None = None, fontsize: float = 8) -> list:
    """Label each point (x, y, marker radius in points) at the nearest free spot.

    Greedy, most crowded points first. A label's candidate spots are the ones right beside
    its point and a fine grid over the whole axes; it takes the nearest one inside the axes
    that overlaps no placed label, no marker and not the legend, preferring spots nearer its
    own point than any other (so that it cannot be read as another point's). Where none is
    free it takes the one that overlaps least. A label away from its point gets a thin leader
    line. Returns the annotations. Kept over adjustText, which left overlaps and labels
    outside the axes on the reference charts and took longer (``benchmarks/label_placement.py``).
    """
    fig = ax.figure
    fig.canvas.draw()  # positions and the legend's box are final only once drawn
    renderer = fig.canvas.get_renderer()
    to_px = fig.dpi / 72.0
    frame = ax.get_window_extent(renderer)
    centres = np.array([ax.transData.transform((x, y)) for x, y, _ in points]).reshape(-1, 2)
    radii = np.array([r for _, _, r in points], dtype=float) * to_px
    taken = [[cx - r, cy - r, cx + r, cy + r] for (cx, cy), r in zip(centres, radii)]
    legend = ax.get_legend()
    if legend is not None:
        taken.append(list(legend.get_window_extent(renderer).extents))
    weights = weights or ["normal"] * len(labels)
    pad = 2 * to_px  # labels keep this far apart
    sizes = []
    for text, weight in zip(labels, weights):
        probe = ax.text(0, 0, text, fontsize=fontsize, fontweight=weight)
        box = probe.get_window_extent(renderer)
        sizes.append((box.width + 2 * pad, box.height + 2 * pad))
        probe.remove()
    step = _GRID_STEP_PT * to_px

    def crowding(i: int) -> int:
        near = ((np.abs(centres[:, 0] - centres[i, 0]) < 80 * to_px)
                & (np.abs(centres[:, 1] - centres[i, 1]) < 40 * to_px))
        return -int(near.sum())

    annotations: list = [None] * len(points)
    for i in sorted(range(len(points)), key=crowding):
        (cx, cy), (w, h), radius = centres[i], sizes[i], radii[i]
        gx, gy = np.meshgrid(np.arange(frame.x0, max(frame.x1 - w, frame.x0) + 1e-6, step),
                             np.arange(frame.y0, max(frame.y1 - h, frame.y0) + 1e-6, step))
        corner = 0.7 * radius
        beside = np.array([(cx + radius, cy - h / 2), (cx - radius - w, cy - h / 2), (cx - w / 2, cy + radius),
                           (cx - w / 2, cy - radius - h), (cx + corner, cy + corner), (cx - corner - w, cy + corner),
                           (cx + corner, cy - corner - h), (cx - corner - w, cy - corner - h)])
        lefts = np.concatenate([beside[:, 0], gx.ravel()])
        bottoms = np.concatenate([beside[:, 1], gy.ravel()])
        boxes = np.stack([lefts, bottoms, lefts + w, bottoms + h], axis=1)
        outside = ((boxes[:, 0] < frame.x0) | (boxes[:, 1] < frame.y0)
                   | (boxes[:, 2] > frame.x1) | (boxes[:, 3] > frame.y1))
        gaps = _box_point_distances(boxes, centres) - radii  # from each spot to each marker's edge
        away = gaps[:, i] + radius
        ambiguous = (np.delete(gaps, i, axis=1) < gaps[:, i, None]).any(axis=1)
        cost = _overlap_counts(boxes, np.array(taken)) + 100 * outside + 0.5 * ambiguous
        best = int(np.lexsort((away, cost))[0])
        x0, y0, x1, y1 = boxes[best]
        far = away[best] > radius + _LEADER_PT * to_px
        x, y, _ = points[i]
        annotations[i] = ax.annotate(
            labels[i], (x, y), xytext=((x0 + pad - cx) / to_px, (y0 + pad - cy) / to_px), textcoords="offset points",
            ha="left", va="bottom", fontsize=fontsize, fontweight=weights[i],
            arrowprops={"arrowstyle": "-", "color": "0.55", "lw": 0.6, "shrinkA": 0, "shrinkB": radius / to_px}
            if far else None)
        taken.append([x0, y0, x1, y1])
    return annotations


def label_box(text, renderer) -> Bbox:
    """The box of a label's text alone (an annotation's own extent includes its leader line)."""
    if hasattr(text, "update_positions"):  # an annotation places its text only when drawn or asked
        text.update_positions(renderer)
    return Text.get_window_extent(text, renderer)


def labels_overlap(fig: Figure, texts: list) -> bool:
    renderer = fig.canvas.get_renderer()
    boxes = [label_box(t, renderer) for t in texts]
    return any(boxes[i].overlaps(boxes[j]) for i in range(len(boxes)) for j in range(i + 1, len(boxes)))


def _legend(ax, colours: dict[str, tuple], shapes: set[str]) -> None:
    """One legend: a colour per family (hollow = reported accuracy), then a shape per status shown."""
    handles = [Line2D([], [], marker="o", linestyle="", markerfacecolor=c, markeredgecolor=c, markersize=6,
                      label=f) for f, c in colours.items()]
    if shapes - {"o"}:
        handles += [Line2D([], [], marker=m, linestyle="", markerfacecolor="none", markeredgecolor="0.3",
                           markersize=6, label=STATUS_LEGEND[m]) for m in STATUS_LEGEND if m in shapes]
    ax.legend(handles=handles, fontsize=7, loc="lower right", title="family (hollow: reported); status",
              title_fontsize=7)


def _scatter(rows: list[ComparisonRow], x_of, x_label: str, dataset: str | None, *, log_x: bool,
             highlight: set[str], metric: str, x_status=lambda row: None) -> Figure:
    fig, ax = plt.subplots(figsize=(7, 5), dpi=100)
    colours = _family_colours(rows)
    points, weights = [], []
    rows = [r for r in rows if x_of(r) is not None and getattr(r, metric) is not None]
    colours = {f: c for f, c in colours.items() if any((r.family or r.method) == f for r in rows)}
    point_labels = _labels(rows)
    shapes = set()
    for row in rows:
        y = getattr(row, metric)
        x = x_of(row)
        colour = colours[row.family or row.method]
        measured = row.accuracy_source == "measured"
        marked = row.model in highlight or row.method in highlight
        size = 30 + 12 * (row.params_m or 10)
        status = point_status(row.status(metric), x_status(row))
        shapes.add(STATUS_MARKERS[status])
        ax.scatter([x], [y], s=size, marker="*" if marked else STATUS_MARKERS[status], alpha=0.8,
                   facecolors=colour if measured else "none", edgecolors="black" if marked else colour,
                   linewidths=2.0 if marked else 1.5, zorder=4 if marked else 3, label=row.family or row.method,
                   gid=f"{row.model or row.method}|{'measured' if measured else 'reported'}|{status}")
        points.append((x, y, size ** 0.5 / 2))  # marker radius in points (s is an area in points^2)
        weights.append("bold" if marked else "normal")
    if log_x:
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.margins(x=0.15, y=0.08)
    if log_x:
        low, high = ax.get_xlim()
        every = high / max(low, 1e-9) < 10  # within a decade: label every minor tick
        ax.xaxis.set_minor_formatter(ticker.FuncFormatter(
            lambda v, _: f"{v:g}" if every or f"{v:g}"[0] in "235" else ""))
    ax.set_xlabel(x_label)
    ax.set_ylabel({"top1": "Top-1 accuracy (%)", "map": "mAP (%)", "rank1": "Rank-1 (%)"}.get(metric, metric))
    ax.set_title(f"{dataset or 'all datasets'}: {ax.get_ylabel()} vs {x_label.split(' (')[0]}")
    ax.grid(True, alpha=0.3, which="both")
    if rows:
        _legend(ax, colours, shapes)
    fig.tight_layout()
    place_labels(ax, points, point_labels, weights=weights)
    return fig


def accuracy_vs_gflops(rows: list[ComparisonRow], dataset: str | None = None, *, log_x: bool = True,
                       highlight: Iterable[str] = (), metric: str = "top1", total_views: bool = False) -> Figure:
    """Accuracy against GFLOPs per view (or per video with ``total_views``)."""

    def x_of(row: ComparisonRow):
        if row.gflops is None:
            return None
        return row.gflops * (row.num_views or 1) if total_views else row.gflops

    label = "GFLOPs per video (x views)" if total_views else "GFLOPs per view (multiply-accumulates)"
    return _scatter(rows, x_of, label, dataset, log_x=log_x, highlight=set(highlight), metric=metric,
                    x_status=lambda row: row.status("gflops"))


def accuracy_vs_latency(rows: list[ComparisonRow], dataset: str | None = None, *, log_x: bool = False,
                        highlight: Iterable[str] = (), metric: str = "top1") -> Figure:
    devices = sorted({r.device for r in rows if r.device and r.latency_ms is not None})
    label = f"latency per clip, batch 1 (ms{', ' + devices[0] if len(devices) == 1 else ''})"
    return _scatter(rows, lambda r: r.latency_ms, label, dataset, log_x=log_x, highlight=set(highlight),
                    metric=metric)


def throughput_vs_batch(profile_records: list[dict], models: Iterable[str] | None = None) -> Figure:
    """Clips per second against batch size, one line per model and setting."""
    wanted = set(models or [])
    series: dict[tuple, list[tuple[int, float]]] = {}
    for r in profile_records:
        if r.get("status") != "ok" or r.get("throughput") is None or (wanted and r["model"] not in wanted):
            continue
        key = (r["model"], r.get("frames"), r.get("size"), r.get("device_name"), r.get("precision"))
        series.setdefault(key, []).append((r["batch_size"], r["throughput"]))
    fig, ax = plt.subplots(figsize=(7, 5), dpi=100)
    for (model, frames, size, device, precision), points in sorted(series.items(), key=lambda kv: kv[0][0]):
        points.sort()
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o",
                label=f"{model} {frames}x{size}" if frames else f"{model} {size}", gid=model)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("batch size")
    ax.set_ylabel("throughput (clips/s)")
    devices = sorted({k[3] for k in series if k[3]})
    ax.set_title(f"Throughput vs batch size{' on ' + ', '.join(devices) if devices else ''}")
    ax.grid(True, alpha=0.3, which="both")
    if series:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, stem: Path, formats: Iterable[str] = ("png", "pdf"), dpi: int = 300) -> list[Path]:
    """Write the figure in each format at print resolution; returns the paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
        paths.append(path)
    plt.close(fig)
    return paths
