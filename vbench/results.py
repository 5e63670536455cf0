"""Where results go: tables of records kept as JSON, CSV and Markdown.

Every write is atomic (a temporary file, then ``os.replace``), so a run killed at any
moment leaves valid files holding every record finished before it. The JSON file is the
source of truth that ``--resume`` reads; CSV and Markdown are views of it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vbench.errors import VbenchError


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()

# Where a user's runs go unless told otherwise: ignored by git, so that a run in a clone
# never rewrites the committed reference results under ``results/``.
DEFAULT_OUT = "runs"


def prepare_folder(path: str | Path) -> Path:
    """Create ``path`` (and its parents) for results, or say in one line why it cannot be."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise VbenchError(f"cannot create the results folder {folder} ({reason}): pick another --out") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise VbenchError(f"cannot write into the results folder {folder} (permission denied): pick another --out")
    return folder


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def to_csv(records: Iterable[dict], columns: list[str] | None = None) -> str:
    import csv
    import io

    records = list(records)
    if columns is None:
        columns = []
        for record in records:
            columns += [k for k in record if k not in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow([_cell(record.get(c)) for c in columns])
    return buffer.getvalue()


def upgrade_record(record: dict) -> dict:
    """A record in today's schema: one made before vbench kept a boolean ``dirty`` gets it
    from its revision's ``+dirty`` suffix, and one without a fingerprint is marked
    ``legacy`` (its time and revision may be those of a later resume, not of the run)."""
    rev = record.get("git_rev")
    if "dirty" not in record and isinstance(rev, str):
        record["dirty"] = rev.endswith("+dirty")
        record["git_rev"] = rev.removesuffix("+dirty")
    if "fingerprint" not in record and "legacy" not in record:
        record["legacy"] = True
    return record


def load_records(path: Path) -> list[dict]:
    """Records of a JSON file, in today's schema; an absent file is an empty table."""
    if not path.exists():
        return []
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise VbenchError(f"{path} is not a vbench records file ({error}); move it away or pick another --out") from None
    if not isinstance(records, list):
        raise VbenchError(f"{path} is not a vbench records file (expected a JSON list)")
    return [upgrade_record(r) for r in records]


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (``flock`` on the directory itself, so no lock
    file is left behind); where the platform has no ``flock`` it holds nothing."""
    try:
        import fcntl
    except ImportError:  # Windows: one writer per folder, as before
        yield
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


class RecordStore:
    """A table of records identified by ``key`` fields, saved after every change.

    ``put`` replaces the record with the same key (a re-measurement, in its place) or
    appends a new one, then rewrites ``<name>.json``, ``<name>.csv`` and ``<name>.md`` atomically.
    It re-reads the file under a lock on the folder first, so runs started side by side
    into one ``--out`` each add their record and none is lost.
    """

    def __init__(self, directory: str | Path, name: str, key: tuple[str, ...],
                 markdown: Callable[[list[dict]], str] | None = None):
        self.directory = prepare_folder(directory)
        self.name = name
        self.key = key
        self.markdown = markdown
        self.json_path = self.directory / f"{name}.json"
        self.records: list[dict] = load_records(self.json_path)

    def key_of(self, record: dict) -> tuple:
        return tuple(json.dumps(record.get(k), sort_keys=True) for k in self.key)

    def get(self, record: dict) -> dict | None:
        wanted = self.key_of(record)
        return next((r for r in self.records if self.key_of(r) == wanted), None)

    def put(self, record: dict) -> None:
        wanted = self.key_of(record)
        with folder_lock(self.directory):
            self.records = load_records(self.json_path)  # what other writers added since
            places = [i for i, r in enumerate(self.records) if self.key_of(r) == wanted]
            if places:  # a re-measurement keeps its row's place
                self.records[places[0]] = record
                self.records = [r for i, r in enumerate(self.records) if i not in places[1:]]
            else:
                self.records.append(record)
            self.save()

    def save(self) -> None:
        atomic_write_text(self.json_path, json.dumps(self.records, indent=1) + "\n")
        atomic_write_text(self.directory / f"{self.name}.csv", to_csv(self.records))
        if self.markdown is not None:
            atomic_write_text(self.directory / f"{self.name}.md", self.markdown(self.records))
