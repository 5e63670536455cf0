"""Provenance: what produced a result (versions, git revision, a dirty flag, time, load).

A record keeps the provenance of the run that measured it: resuming a run or finding it
finished never re-stamps it (see ``stamp_resume``).
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

# Where a run writes its results: never a git-tracked code change, so it does not make a
# tree dirty while the run that writes there is going on.
_RESULT_FOLDERS = ("results", "runs")


@functools.cache
def git_state() -> tuple[str | None, bool | None]:
    """(revision, dirty) of the vbench source tree; (None, None) outside a git checkout.

    ``dirty`` is True when code differs from the revision: a tracked file changed, or an
    untracked file beside the code; files under ``results/`` and ``runs/`` do not count.
    """
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None, None
    excluded = [f":(exclude){folder}" for folder in _RESULT_FOLDERS]
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=True).stdout.strip()
        changes = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", ".", *excluded],
                                 capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None, None
    return rev, bool(changes)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def load_average() -> float | None:
    """The 1-minute load average (runnable processes), where the system tells it."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def provenance() -> dict[str, str | bool | float | None]:
    """Versions, revision, dirty flag, time and load of the run being made now."""
    import torch
    import torchvision

    from vbench.version import __version__

    rev, dirty = git_state()
    return {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "vbench": __version__,
        "python": platform.python_version(),
        "git_rev": rev,
        "dirty": dirty,
        "time": now(),
        "cpu_count": os.cpu_count(),
        "loadavg_1m": load_average(),
    }


def stamp_resume(original: dict) -> dict:
    """The provenance of a resumed run: the original one, with this resume's time appended."""
    kept = dict(original)
    kept["resumed_at"] = list(kept.get("resumed_at") or []) + [now()]
    return kept
