"""``vbench report`` and ``vbench plot`` as library calls: read records, write tables and charts.

Both read ``profile.json`` and ``eval.json`` (and ``train.json``) from a results folder and
the shipped reported-numbers table; neither runs a model.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from vbench.errors import VbenchError
from vbench.reporting import formats as fmt
from vbench.reporting.comparison import (
    ComparisonRow, build_comparison, dataset_code, random_weight_records, sort_rows,
)
from vbench.results import atomic_write_text, load_records

FORMATS = {"md": ("md", fmt.to_markdown), "csv": ("csv", None), "latex": ("tex", fmt.to_latex),
           "html": ("html", fmt.to_html)}
PLOTS = ("gflops", "latency", "batch")


def load_results(results: Path) -> tuple[list[dict], list[dict]]:
    """Profile and eval records of a results folder (train records count as eval records)."""
    if not results.is_dir():
        raise VbenchError(f"no results folder at {results}: run `vbench profile` (and `vbench eval`) first, "
                          "or point --results at the folder they wrote")
    profile = load_records(results / "profile.json")
    evals = load_records(results / "eval.json") + load_records(results / "train.json")
    return profile, evals


def report_notes(rows: list[ComparisonRow], evals: list[dict], dataset: str | None,
                 models: list[str] | None = None) -> list[str]:
    """Lines a report adds under its table: rows whose measurement a reader must weigh
    (unstable latency, dirty tree, legacy record), and what it left out and why."""
    notes = fmt.provenance_notes(rows)
    random = random_weight_records(evals, dataset, models) if dataset else 0
    if random:
        notes.append(f"{random} eval record{'s' if random > 1 else ''} with random weights (no checkpoint) "
                     f"{'were' if random > 1 else 'was'} left out: such accuracy is not the model's.")
    return notes


def _stem(out: Path, name: str, dataset: str | None) -> Path:
    return out / (f"{name}-{dataset_code(dataset)}" if dataset else name)


def write_report(results: Path, out: Path | None = None, *, dataset: str | None = None,
                 models: list[str] | None = None, sort: str = "gflops", formats: tuple[str, ...] = tuple(FORMATS),
                 include_reported: bool = True, catalogue: Mapping[str, dict] | None = None,
                 ) -> tuple[list[ComparisonRow], list[Path]]:
    """Build the comparison and write it in each format; returns the rows and the files.
    ``catalogue``: the models' families (see ``build_comparison``)."""
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise VbenchError(f"unknown format(s) {', '.join(sorted(unknown))}: choose from {', '.join(FORMATS)}")
    profile, evals = load_results(results)
    rows = sort_rows(build_comparison(profile, evals, dataset=dataset, models=models,
                                      include_reported=include_reported, catalogue=catalogue), sort)
    if not rows:
        what = f" for {dataset}" if dataset else ""
        raise VbenchError(f"nothing to report{what} in {results}: no profile records"
                          f"{' and no eval records or reported accuracy' if dataset else ''} match")
    out = out or results
    stem = _stem(out, "report", dataset)
    paths = []
    notes = report_notes(rows, evals, dataset, models)
    for name in formats:
        suffix, render = FORMATS[name]
        text = fmt.to_csv(rows) if name == "csv" else render(rows, dataset_code(dataset), notes=notes)
        path = stem.with_suffix(f".{suffix}")
        atomic_write_text(path, text)
        paths.append(path)
    return rows, paths


def write_plots(results: Path, out: Path | None = None, *, dataset: str | None = None,
                models: list[str] | None = None, kinds: tuple[str, ...] = PLOTS, log_x: bool = True,
                highlight: tuple[str, ...] = (), image_formats: tuple[str, ...] = ("png", "pdf"),
                include_reported: bool = True, catalogue: Mapping[str, dict] | None = None) -> list[Path]:
    """Write the requested charts; a chart with nothing to show is skipped, not drawn empty."""
    from vbench.reporting import plots

    unknown = set(kinds) - set(PLOTS)
    if unknown:
        raise VbenchError(f"unknown plot(s) {', '.join(sorted(unknown))}: choose from {', '.join(PLOTS)}")
    profile, evals = load_results(results)
    out = out or results
    rows = build_comparison(profile, evals, dataset=dataset, models=models, include_reported=include_reported,
                            catalogue=catalogue)
    metric = "map" if any(r.map is not None for r in rows) and not any(r.top1 is not None for r in rows) else "top1"
    paths: list[Path] = []
    code = dataset_code(dataset)
    if "gflops" in kinds and any(getattr(r, metric) is not None and r.gflops is not None for r in rows):
        figure = plots.accuracy_vs_gflops(rows, code, log_x=log_x, highlight=highlight, metric=metric)
        paths += plots.save_figure(figure, _stem(out, "accuracy_vs_gflops", dataset), image_formats)
    if "latency" in kinds and any(getattr(r, metric) is not None and r.latency_ms is not None for r in rows):
        figure = plots.accuracy_vs_latency(rows, code, highlight=highlight, metric=metric)
        paths += plots.save_figure(figure, _stem(out, "accuracy_vs_latency", dataset), image_formats)
    sweeps = [r for r in profile if r.get("status") == "ok" and r.get("throughput") is not None
              and (not models or r["model"] in models)]
    if "batch" in kinds and len({r["batch_size"] for r in sweeps}) > 1:
        paths += plots.save_figure(plots.throughput_vs_batch(sweeps, models), out / "throughput_vs_batch",
                                   image_formats)
    if not paths:
        raise VbenchError(f"nothing to plot from {results}" + (f" for {dataset}" if dataset else "") +
                          ": accuracy charts need eval records or reported accuracy for the dataset (--dataset), "
                          "the batch chart a profile batch sweep (--batch-size 1 --batch-size 8)")
    return paths
