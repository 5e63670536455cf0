"""Records as pandas DataFrames, for notebooks: ``vbench.load_records("runs", kind="profile")``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vbench.errors import VbenchError
from vbench.results import load_records as _load_record_list

KINDS = ("profile", "eval", "train")
_TIMES = ("time", "finished_at", "rescored_at")
_FLAGS = ("dirty", "legacy", "latency_stable", "reconstruction", "dreal", "channels_last", "compile", "flops_cached")


def load_records(folder: str | Path = "runs", kind: str = "profile") -> pd.DataFrame:
    """One row a record of ``<folder>/<kind>.json``, one column a field, with types a reader can
    compute on: numbers as numbers (a missing figure is NaN), times as UTC datetimes, flags as
    booleans (missing: <NA>); nested fields (per-class accuracy, history, FLOPs by operator) stay
    Python objects. Legacy records are upgraded to today's schema as the reports read them."""
    if kind not in KINDS:
        raise VbenchError(f"unknown record kind '{kind}': choose from {', '.join(KINDS)}")
    path = Path(folder) / f"{kind}.json"
    if not path.exists():
        raise VbenchError(f"{path} does not exist: give the folder a vbench {kind} run wrote (--out, default runs)")
    frame = pd.DataFrame(_load_record_list(path))
    for column in frame.columns:
        values = frame[column].dropna()
        if column in _TIMES:
            frame[column] = pd.to_datetime(frame[column], utc=True, errors="coerce")
        elif column in _FLAGS or (len(values) and values.map(lambda v: isinstance(v, bool)).all()):
            frame[column] = frame[column].astype("boolean")
        elif len(values) and values.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)).all():
            frame[column] = pd.to_numeric(frame[column])
    return frame
