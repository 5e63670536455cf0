"""The ``vbench`` command line: one module a command, each only parses, calls and renders."""

from vbench.cli.app import app, main
from vbench.cli import data_cmd, models_cmd, profile_cmd  # noqa: E402,F401  (each registers its command)

__all__ = ["app", "main"]
