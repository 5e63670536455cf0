"""The Typer app and what every command shares: one-line errors (tracebacks with --debug), consoles, version."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console

from vbench.errors import VbenchError

app = typer.Typer(
    name="vbench",
    help="Benchmark and model zoo for efficient video recognition: profile, evaluate, train, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

# Piped to a file or a CI log, rich would wrap the wide results tables at 80 columns,
# cell by cell; give them room unless the user set COLUMNS.
_LOG_WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 200
out = Console(width=_LOG_WIDTH)  # results (tables, JSON)
err = Console(stderr=True, width=_LOG_WIDTH)  # progress, notes and errors
_debug = False  # set by the global --debug: errors re-raise with their traceback


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a user's mistake (VbenchError) into one line on stderr and exit code 2 (under --debug, the traceback)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
        try:
            return command(*args, **kwargs)
        except VbenchError as error:
            if _debug:
                if getattr(error, "detail", None):  # a DataLoader worker's traceback
                    err.print(error.detail, markup=False, highlight=False)
                raise
            err.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print("interrupted: every finished record is saved; run again with --resume to continue")
            raise typer.Exit(130) from None

    return wrapper


def _version(value: bool) -> None:
    if value:
        import vbench

        print(f"vbench {vbench.__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit."),
          debug: bool = typer.Option(False, "--debug", help="Show an error's full traceback, not one line.")) -> None:
    """Benchmark and model zoo for efficient video recognition.

    Example: vbench profile --all
    """
    global _debug
    _debug = debug


def main() -> None:
    app(prog_name="vbench")


class LazyProgress:
    """A rich progress bar that appears with the first update, so that a setup error
    (a missing folder, a bad checkpoint) prints as one line with no empty bar above it."""

    def __init__(self, *columns, disable: bool = False, transient: bool = False):
        from rich.progress import Progress

        self.progress = Progress(*columns, console=err, transient=transient, disable=disable)
        self.started = False
        self.task = None

    def update(self, **fields) -> None:
        if not self.started:
            self.progress.start()
            self.task = self.progress.add_task(fields.pop("description", ""), total=None,
                                               **{k: fields.pop(k) for k in list(fields) if k not in (
                                                   "completed", "total", "advance")})
            self.started = True
        self.progress.update(self.task, **fields)

    def print(self, *args, **kwargs) -> None:
        (self.progress.console if self.started else err).print(*args, **kwargs)

    def __enter__(self) -> "LazyProgress":
        return self

    def __exit__(self, *exc) -> None:
        if self.started:
            self.progress.stop()
