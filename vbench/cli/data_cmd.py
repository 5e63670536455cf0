"""``vbench data``: check a dataset's files against its official layout; list datasets and test views."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from vbench.cli.app import app, err, out, user_errors
from vbench.cli.plugins_opt import PLUGIN, use_plugins
from vbench.errors import VbenchError

data_app = typer.Typer(help="Datasets: check that a dataset is complete, list datasets and test-view presets.",
                       no_args_is_help=True, rich_markup_mode="rich")
app.add_typer(data_app, name="data", epilog="Example: vbench data check --dataset ucf101 --root /data/ucf101")

CHECK_EXAMPLES = """Examples:

  vbench data check --dataset ucf101 --root /data/ucf101 --split 1 --subset test

  vbench data check --dataset kinetics400 --root /data/k400 --decode --json

  vbench data check --dataset list --root /data/sthv2 -o test_list=val_videofolder.txt

  vbench data check --dataset mars --root /data/MARS --subset gallery --protocol query-removed --json
"""


def parse_options(pairs: list[str] | None) -> dict[str, str | int]:
    """``KEY=VALUE`` pairs of the command line (whole numbers become ints) for a dataset module."""
    options = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise VbenchError(f"bad option '{pair}': write KEY=VALUE, e.g. -o class_order=file")
        value = value.strip()
        options[key.strip().replace("-", "_")] = int(value) if value.lstrip("-").isdigit() else value
    return options


@data_app.command("check", epilog=CHECK_EXAMPLES)
@user_errors
def check_command(
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset name (vbench data list)."),
    root: Path = typer.Option(None, "--root", help="Folder holding the dataset as distributed."),
    split: int = typer.Option(None, "--split", help="Official split (UCF101, HMDB51: 1-3; default 1)."),
    subset: str = typer.Option("test", "--subset", help="train or test (test = the validation set where "
                                                        "there is no labelled test set); re-id: train, query "
                                                        "or gallery."),
    protocol: str = typer.Option("official", "--protocol", help="Re-id gallery convention: official, "
                                                                "query-removed or query-included."),
    trial: int = typer.Option(0, "--trial", help="Re-id: the trial of iLIDS-VID / PRID-2011 to count."),
    decode: bool = typer.Option(False, "--decode", help="Open every video and decode 3 frames (slow)."),
    decoder: str = typer.Option("pyav", "--decoder", help="pyav, torchcodec or decord."),
    option: list[str] = typer.Option(None, "--option", "-o", help="Dataset option KEY=VALUE (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON on stdout, nothing else."),
    plugin: list[str] = PLUGIN,
) -> None:
    """Check a dataset: classes, videos in the split, missing and unreadable files, first problems."""
    use_plugins(plugin)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from vbench.data.check import check_dataset
    from vbench.reid import READERS

    if dataset in READERS:
        _check_reid(dataset, root, "query" if subset == "test" else subset, protocol, trial, parse_options(option),
                    as_json)
        return

    with Progress(TextColumn("checking {task.description}"), BarColumn(), MofNCompleteColumn(), console=err,
                  transient=True, disable=not decode) as progress:
        task = progress.add_task(dataset, total=None)
        report = check_dataset(dataset, root, split, subset, decode=decode, decoder=decoder,
                               on_video=lambda: progress.advance(task), **parse_options(option))
    if as_json:
        print(json.dumps(report.as_dict(), indent=1))
    else:
        split_text = f" split {report.split}" if report.split else ""
        table = Table(title=f"{report.dataset}{split_text} {report.subset} in {report.root or '(generated)'}",
                      title_justify="left", show_header=False)
        table.add_column("", style="bold")
        table.add_column("")
        table.add_row("classes", str(report.classes))
        table.add_row("videos in the split", str(report.videos))
        table.add_row("missing files", _count(report.missing))
        table.add_row("unreadable files", _count(report.unreadable) + ("" if report.decoded else
                                                                       " (empty files; --decode opens every video)"))
        for note in report.notes:
            table.add_row("note", note)
        out.print(table)
        if report.problems:
            problems = Table(title="first problems", title_justify="left")
            problems.add_column("path", overflow="fold")
            problems.add_column("problem")
            for problem in report.problems:
                problems.add_row(problem["path"], problem["problem"])
            out.print(problems)
    if not report.ok:
        raise typer.Exit(1)


def _check_reid(dataset: str, root: Path | None, subset: str, protocol: str, trial: int, options: dict,
                as_json: bool) -> None:
    from vbench import reid

    if root is None:
        raise VbenchError(f"{dataset} needs --root: the folder holding the dataset as distributed")
    report = reid.check_dataset(dataset, root, subset, protocol, trial, **options)
    if as_json:
        print(json.dumps(report, indent=1))
    else:
        table = Table(title=f"{dataset} {subset} ({protocol} protocol) in {root}", title_justify="left",
                      show_header=False)
        table.add_column("", style="bold")
        table.add_column("")
        for key in ("tracklets", "identities", "cameras", "frames", "missing", "empty_tracklets", "queries",
                    "valid_queries", "num_trials"):
            table.add_row(key.replace("_", " "), _count(report[key]) if key == "missing" else str(report[key]))
        out.print(table)
    if report["missing"] or report["empty_tracklets"]:
        raise typer.Exit(1)


def _count(n: int) -> str:
    return f"[red]{n}[/]" if n else "0"


@data_app.command("list", epilog="Example: vbench data list --views")
@user_errors
def list_command(
    views: bool = typer.Option(False, "--views", help="List the test-view presets instead of the datasets."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout, nothing else."),
    plugin: list[str] = PLUGIN,
) -> None:
    """List the datasets vbench reads (with their expected layout) or the test-view presets."""
    use_plugins(plugin)
    from dataclasses import asdict

    from vbench.data import VIEW_PRESETS, dataset_info, list_datasets

    if views:
        rows = [{"name": p.name, "views": p.spec.views, "describe": p.spec.describe(), "description": p.description,
                 "source": p.source, "spec": p.spec.as_dict()} for p in VIEW_PRESETS.values()]
        columns = ("name", "views", "describe", "source")
    else:
        rows = [asdict(dataset_info(name)) for name in list_datasets()]
        columns = ("name", "description", "layout")
    if as_json:
        print(json.dumps(rows, indent=1))
        return
    table = Table(title_justify="left")
    for column in columns:
        table.add_column(column.capitalize(), overflow="fold", no_wrap=column == "name")
    for row in rows:
        table.add_row(*(str(row[c]) for c in columns))
    out.print(table)
