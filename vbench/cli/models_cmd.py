"""``vbench models``: the zoo, with paper, task and default input."""

from __future__ import annotations

import json
from dataclasses import asdict

import typer
from rich.table import Table

from vbench.cli.app import app, out, user_errors


@app.command("models", epilog="Example: vbench models 'ts*'")
@user_errors
def models_command(
    pattern: str = typer.Argument(None, help="Shell-style filter on names, e.g. 'tsm*'."),
    aliases: bool = typer.Option(False, "--aliases", help="Also list the depth aliases (tsm_r18, ...)."),
    as_json: bool = typer.Option(False, "--json", help="Print the model infos as JSON."),
) -> None:
    """List the models of the zoo with their paper, task and default input."""
    from vbench.models import list_models, model_info

    infos = [model_info(name) for name in list_models(pattern, aliases=aliases)]
    if as_json:
        print(json.dumps([asdict(i) for i in infos], indent=1))
        return
    table = Table(title=f"{len(infos)} models", title_justify="left")
    table.add_column("Model", no_wrap=True)
    for column in ("Method", "Year", "arXiv", "Task", "Input", "Classes", "Notes"):
        table.add_column(column, overflow="fold")
    for i in infos:
        notes = "reconstruction: not a verified port" if i.reconstruction else i.notes
        table.add_row(i.name, i.method, str(i.year), i.arxiv, i.task, i.default_input, str(i.num_classes), notes)
    out.print(table)
