"""User-facing errors.

Anything a user can cause (a misspelt model, a missing folder, a bad size) raises a
``VbenchError``: the CLI prints its message as one line and exits with code 2, never a
traceback. Library users catch it like any exception.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class VbenchError(Exception):
    """A mistake in what the user asked for; the message says what to do."""


class UnknownModelError(VbenchError, KeyError):
    def __init__(self, name: str, known: Iterable[str]):
        close = difflib.get_close_matches(name, list(known), n=4, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        super().__init__(f"unknown model '{name}'.{hint} Run `vbench models` for the list.")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class InputShapeError(VbenchError, ValueError):
    """The input does not have the shape the model was built for."""


class DeviceError(VbenchError, RuntimeError):
    """The requested device is not available."""


class CheckpointError(VbenchError, RuntimeError):
    """A checkpoint that cannot be read or does not fit the model."""


class ModelNameTaken(VbenchError, ValueError):
    """A user model's name that the zoo or another file already registered."""


class PluginError(VbenchError, ImportError):
    """A plugin (a file, a module or an entry point) that could not be loaded."""
