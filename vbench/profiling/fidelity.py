"""A model's params and FLOPs at a paper's setting, as a profile record.

The reported-numbers table says what a paper printed; checking a model against it needs a
measurement at the paper's frames, input size and class count. That measurement is an
ordinary profile record (no timing), made here by the profiler itself, so that the audit
in ``vbench.reporting`` only ever compares a row with a record and never builds a model.
"""

from __future__ import annotations

from vbench.errors import VbenchError
from vbench.profiling.runner import ProfileSettings, profile


def cost_record(model: str, frames: int | None, size: tuple[int, int] | None, num_classes: int | None) -> dict:
    """The params/FLOPs profile record of ``model`` at one setting (each ``None``: the model's default)."""
    settings = ProfileSettings(frames=frames, size=size, num_classes=num_classes, metrics=("params", "flops"))
    record = profile([model], settings, out_dir=None)[0]
    if record.get("status") != "ok":
        raise VbenchError(f"{model} could not be measured at {frames} frames, {size}, {num_classes} classes: "
                          f"{record.get('error')}")
    return record

