"""Provenance: what produced a result (versions, git revision, time)."""

from __future__ import annotations

import functools
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path


@functools.cache
def git_revision() -> str | None:
    """The git revision of the vbench source tree, with ``+dirty`` for local changes."""
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{rev}+dirty" if dirty else rev


def provenance() -> dict[str, str | None]:
    import torch
    import torchvision

    import vbench

    return {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "vbench": vbench.__version__,
        "python": platform.python_version(),
        "git_rev": git_revision(),
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
