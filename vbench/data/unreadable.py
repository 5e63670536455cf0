"""How many unreadable videos a run may skip before its figure stops being the split's.

A skipped video shrinks the test set. Past a small fraction (``--max-unreadable``,
default 0.5%) the accuracy belongs to another, unnamed subset, so the run fails, listing
every unreadable video in a file, instead of recording a number.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from vbench.errors import VbenchError
from vbench.results import atomic_write_text

MAX_UNREADABLE = 0.005
SHOWN = 3  # unreadable videos named in the error line; the file lists them all


class TooManyUnreadable(VbenchError):
    """More videos than the limit allows could not be read."""


def check_fraction(value: float) -> None:
    """One line for a limit that is not a fraction."""
    if not 0 <= value <= 1:
        raise VbenchError(f"--max-unreadable must be a fraction between 0 and 1 (0.01 = 1%), not {value:g}")


def write_listing(skipped: list[dict], path: Path) -> Path:
    """Every unreadable video as ``[{id, error}]``: the whole list, where the screen shows a few."""
    listing = [{"id": s["id"], "error": s["error"]} for s in skipped]
    atomic_write_text(path, json.dumps(listing, indent=1) + "\n")
    return path


def check_unreadable(skipped: list[dict], total: int, limit: float, listing: Path, what: str = "videos") -> None:
    """TooManyUnreadable when more than ``limit`` of ``total`` could not be read."""
    count = len(skipped)
    if not total or count <= limit * total + 1e-9:
        return
    shown = "; ".join(f"{s['id']} ({s['error']})" for s in skipped[:SHOWN])
    more = f"; and {count - SHOWN} more" if count > SHOWN else ""
    needed = math.ceil(count / total * 10000) / 10000
    raise TooManyUnreadable(
        f"{count} of {total} {what} could not be read ({count / total:.1%}), more than --max-unreadable "
        f"{limit:g} ({limit:.1%}) allows, so no accuracy is recorded; the full list is in {listing}; "
        f"first: {shown}{more}. Fix or remove them, or accept them with --max-unreadable {needed:g}")
