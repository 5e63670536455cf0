"""The ``vbench`` command line: one module a command, each only parses, calls and renders."""

from vbench.cli.app import app, main
from vbench.cli import (  # noqa: E402,F401  (each registers its command)
    data_cmd, eval_cmd, models_cmd, profile_cmd, report_cmd, train_cmd)

__all__ = ["app", "main"]
