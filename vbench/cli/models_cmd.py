"""``vbench models``: the zoo, with paper, task and default input."""

from __future__ import annotations

import json
from pathlib import Path
from dataclasses import asdict
from fnmatch import fnmatch

import typer
from rich.table import Table

from vbench.cli.app import app, out, user_errors
from vbench.cli.plugins_opt import PLUGIN, use_plugins

EXAMPLES = """Examples:

  vbench models

  vbench models 'ts*'

  vbench models tada2d_r50        (one model: every detail, notes included)

  vbench models --weights         (the official checkpoints: source, published top-1, download)

  vbench models 'tsm*' --weights --json
"""


@app.command("models", epilog=EXAMPLES)
@user_errors
def models_command(
    pattern: str = typer.Argument(None, help="A model name, or a shell-style filter such as 'tsm*'."),
    aliases: bool = typer.Option(False, "--aliases", help="Also list the depth aliases (tsm_r18, ...)."),
    as_json: bool = typer.Option(False, "--json", help="Print the model infos as JSON."),
    weights: bool = typer.Option(False, "--weights", help="List the official checkpoints (vbench eval --weights)."),
    plugin: list[str] = PLUGIN,
) -> None:
    """List the models of the zoo (and your plugins' models) with their paper, task and default input."""
    use_plugins(plugin)
    if weights:
        _weights_table(pattern, as_json)
        return
    from vbench.models import list_models, model_info

    names = list_models(pattern, aliases=aliases)
    if pattern and not names:
        model_info(pattern)  # an unknown exact name: the close names, one line
    infos = [model_info(name) for name in names]
    if as_json:
        print(json.dumps([asdict(i) for i in infos], indent=1))
        return
    if len(infos) == 1 and pattern == infos[0].name:
        _detail(infos[0])
        return
    table = Table(title=f"{len(infos)} models (vbench models NAME for one model's details)", title_justify="left")
    table.add_column("Model", no_wrap=True)
    for column in ("Method", "Year", "Task", "Input", "Classes", "Kind"):
        table.add_column(column, overflow="fold")
    for i in infos:
        table.add_row(i.name, i.method, str(i.year), i.task, i.default_input, str(i.num_classes), _kind(i))
    out.print(table)


def _kind(info) -> str:
    if info.source == "user":
        from vbench.models.registry import builder_of, defined_in

        return f"user ({Path(defined_in(builder_of(info.name))).name})"
    if info.reconstruction:
        return "reconstruction"
    if info.name.startswith("tv_"):
        return "torchvision"
    if info.code and not info.code.lower().startswith("none"):
        return "port of official code"
    return "from the paper (no official code)"


def _detail(info) -> None:
    table = Table(title=info.name, title_justify="left", show_header=False)
    table.add_column("", style="bold", no_wrap=True)
    table.add_column("", overflow="fold")
    for key, value in asdict(info).items():
        if value not in ("", None, ()):
            table.add_row(key.replace("_", " "), str(value))
    table.add_row("kind", _kind(info) + (": not a verified port" if info.reconstruction else ""))
    out.print(table)


def _weights_table(pattern: str | None, as_json: bool) -> None:
    from vbench.models.weights import list_weights

    entries = [w for w in list_weights() if not pattern or fnmatch(w.model, pattern) or fnmatch(w.name, pattern)]
    if as_json:
        print(json.dumps([w.as_dict() for w in entries], indent=1))
        return
    table = Table(title=f"{len(entries)} official checkpoints (vbench eval --weights NAME; auto: downloaded into "
                        "torch's hub cache, else download by hand and add --checkpoint PATH)", title_justify="left")
    table.add_column("Weights", no_wrap=True)
    for column in ("Dataset", "Classes", "Frames", "Protocol", "Top-1", "Download", "Source"):
        table.add_column(column, overflow="fold")
    for w in entries:
        where = w.page or "nowhere (no link)"
        how = "auto" if w.auto and w.url else f"by hand: {w.filename or 'the file'} from {where}"
        table.add_row(w.name, w.dataset, str(w.num_classes), str(w.frames), w.protocol or "-",
                      "-" if w.top1 is None else f"{w.top1:g}", how, w.source)
    out.print(table)
