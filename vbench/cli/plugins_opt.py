"""``--plugin``: the option every command shares, and the call that loads what it names.

Each command declares ``plugin: list[str] = PLUGIN`` and calls ``use_plugins(plugin)``
first, inside ``user_errors``, so that a broken plugin is one line and the user's models
are registered before any model name is resolved. The ``vbench.models`` entry points of
installed packages are loaded by the same call.
"""

from __future__ import annotations

import typer

PLUGIN = typer.Option(
    [], "--plugin", metavar="PATH_OR_MODULE",
    help="A .py file or importable module that registers your models with vbench.register_model (repeatable); "
         "see docs/your-model.md.")


def use_plugins(plugins: list[str] | None) -> None:
    """Load the installed entry points and the named plugins (a VbenchError if one fails)."""
    from vbench.plugins import load_plugins

    load_plugins(plugins or ())
