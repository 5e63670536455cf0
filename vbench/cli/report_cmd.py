"""``vbench report`` and ``vbench plot``: paper-style tables and charts from recorded results."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from vbench.results import DEFAULT_OUT
from vbench.cli.app import app, err, out, user_errors
from vbench.cli.plugins_opt import PLUGIN, use_plugins

REPORT_EXAMPLES = """Examples:

  vbench report

  vbench report --dataset sthv1 --sort top1 --format latex --format md

  vbench report --models tsm_r50,tsn_r50 --results results/ --out paper/
"""

PLOT_EXAMPLES = """Examples:

  vbench plot --dataset sthv1

  vbench plot --dataset kinetics400 --kind gflops --linear --highlight my_net_r50 --image-format svg
"""


def _split(values: str | None) -> list[str] | None:
    return [v.strip() for v in values.split(",") if v.strip()] if values else None


@app.command("report", epilog=REPORT_EXAMPLES)
@user_errors
def report_command(
    results: Path = typer.Option(Path(DEFAULT_OUT), "--results", help="Folder with profile.json / eval.json."),
    dataset: str = typer.Option(None, "--dataset", help="Accuracy on this dataset (sthv1, kinetics400, K400...)."),
    models: str = typer.Option(None, "--models", help="Comma-separated model names to keep."),
    sort: str = typer.Option("gflops", "--sort", help="gflops, params, latency, top1 or method."),
    formats: list[str] = typer.Option(["md", "csv", "latex", "html"], "--format", help="md, csv, latex, html."),
    reported: bool = typer.Option(True, "--reported/--no-reported", help="Include the papers' accuracy rows."),
    out_dir: Path = typer.Option(None, "--out", help="Where to write (default: the --results folder)."),
    plugin: list[str] = PLUGIN,
) -> None:
    """Write the comparison table (Markdown, CSV, LaTeX, HTML) from measured and reported numbers."""
    use_plugins(plugin)
    from vbench.reporting.formats import COLUMNS, REID_COLUMNS, _cells, _is_reid, caption, legend
    from vbench.models.registry import model_catalogue
    from vbench.reporting.report import load_results, report_notes, write_report

    rows, paths = write_report(results, out_dir, dataset=dataset, models=_split(models), sort=sort,
                               formats=tuple(formats), include_reported=reported, catalogue=model_catalogue())
    reid = _is_reid(rows)
    table = Table(title="vbench report" + (f": {dataset}" if dataset else ""), title_justify="left",
                  caption=" ".join([legend(rows), caption(rows, dataset),
                                    *report_notes(rows, load_results(results)[1], dataset, _split(models))]))
    for column in REID_COLUMNS if reid else COLUMNS:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*_cells(row, reid), style="red" if row.flagged else None)
    out.print(table)
    err.print("written: " + ", ".join(str(p) for p in paths))


@app.command("plot", epilog=PLOT_EXAMPLES)
@user_errors
def plot_command(
    results: Path = typer.Option(Path(DEFAULT_OUT), "--results", help="Folder with profile.json / eval.json."),
    dataset: str = typer.Option(None, "--dataset", help="Accuracy on this dataset (needed for accuracy charts)."),
    models: str = typer.Option(None, "--models", help="Comma-separated model names to keep."),
    kinds: list[str] = typer.Option(["gflops", "latency", "batch"], "--kind", help="gflops, latency, batch."),
    linear: bool = typer.Option(False, "--linear", help="Linear GFLOPs axis (default: log)."),
    highlight: list[str] = typer.Option([], "--highlight", help="Model or method to highlight (repeatable)."),
    image_formats: list[str] = typer.Option(["png", "pdf"], "--image-format", help="png, pdf, svg (repeatable)."),
    reported: bool = typer.Option(True, "--reported/--no-reported", help="Include the papers' points."),
    out_dir: Path = typer.Option(None, "--out", help="Where to write (default: the --results folder)."),
    plugin: list[str] = PLUGIN,
) -> None:
    """Draw accuracy vs GFLOPs, accuracy vs latency and throughput vs batch size charts."""
    use_plugins(plugin)
    from vbench.models.registry import model_catalogue
    from vbench.reporting.report import write_plots

    paths = write_plots(results, out_dir, dataset=dataset, models=_split(models), kinds=tuple(kinds),
                        log_x=not linear, highlight=tuple(highlight), image_formats=tuple(image_formats),
                        include_reported=reported, catalogue=model_catalogue())
    out.print("\n".join(str(p) for p in paths))
