"""The reported-numbers table: the papers' own figures, each with its source and status.

Shipped inside the package as one CSV file a paper (``reporting/reported/*.csv``), all
with the columns of ``COLUMNS``. Figures are kept as printed (strings), so the number of
printed digits is known and a check allows the printed figure's rounding.

``status`` says how far each figure can be trusted, so that no report shows a recalled or
computed number as if it had been read in print:

==========  ===================================================================
verified    read in the source named by ``source`` (paper table, official README or code)
secondary   read in another page that quotes the source (PapersWithCode, an issue thread)
unverified  not read in any source here (e.g. as vbench's methods page lists it)
derived     not printed as such: computed by vbench from printed figures (twice the
            8-frame figure, an ensemble's sum) or attached to a setting vbench inferred
==========  ===================================================================

``status`` applies to every figure of the row unless ``figure_status`` overrides one:
``gflops=derived; top5=unverified`` (figures: params_m, gflops, top1, top5, map, rank1).

A row with ``check = yes`` is a setting vbench's model is built to match: tests build
the model at that row's frames, input size and classes and hold its params and GFLOPs
to the row (``compare``, with a record from ``vbench.profiling.fidelity``). Only figures whose status is verified or secondary count as
checked against print; the tests compare the others under their own label. Where a
paper and its official code disagree, both rows are kept; the one vbench follows has
``check = yes`` and the ``note`` of each says why.

``flops_counting`` says how the source counted, so the audit measures the same thing:

=============  ===================================================================
macs           multiply-accumulates of every op (vbench's ``gflops``: fvcore + handles, BN included)
macs-no-bn     the same without BatchNorm
conv-fc        convolutions and fully connected layers only
unstated       the source does not say: the audit measures all three conventions, passes
               when any one is within tolerance and says "convention not stated"
=============  ===================================================================

An explicit convention is used only where the source states it (the note says where,
e.g. ECA-Net's README script, TAda's get_model_stats).

``units``: ``decimal`` (M = 1e6, G = 1e9) or ``binary`` (M = 2^20, G = 2^30; e.g. the
ECA-Net README, whose script divides thop counts by powers of two).
"""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass
from importlib import resources

from vbench.errors import VbenchError

COLUMNS = (
    "key", "method", "backbone", "pretrain", "frames", "input_size", "views", "num_classes",
    "params_m", "gflops", "flops_counting", "units", "dataset", "top1", "top5", "map", "rank1",
    "source", "table", "status", "figure_status", "check", "reconstruction", "note",
)
STATUSES = ("verified", "secondary", "unverified", "derived")
PRINTED = ("verified", "secondary")  # statuses of a figure read in print
CONVENTIONS = ("macs", "macs-no-bn", "conv-fc")
FLOPS_COUNTING = (*CONVENTIONS, "unstated")
FIGURES = ("params_m", "gflops", "top1", "top5", "map", "rank1")
UNITS = ("decimal", "binary")


@dataclass(frozen=True)
class ReportedRow:
    """One paper figure (or one row of a paper's table), as printed."""

    key: str
    method: str
    backbone: str
    pretrain: str
    frames: str
    input_size: str
    views: str
    num_classes: str
    params_m: str
    gflops: str
    flops_counting: str
    units: str
    dataset: str
    top1: str
    top5: str
    map: str
    rank1: str
    source: str
    table: str
    status: str
    figure_status: str
    check: str
    reconstruction: str
    note: str
    file: str = ""
    line: int = 0

    @property
    def checked(self) -> bool:
        return self.check == "yes"

    @property
    def size(self) -> tuple[int, int] | None:
        if not self.input_size:
            return None
        h, _, w = self.input_size.partition("x")
        return int(h), int(w or h)

    @property
    def setting(self) -> dict:
        """The setting its figures are of, as ``vbench.profiling.fidelity.cost_record`` takes it."""
        return {"model": self.key, "frames": int(self.frames) if self.frames else None, "size": self.size,
                "num_classes": int(self.num_classes) if self.num_classes else None}

    def overrides(self) -> dict[str, str]:
        """``figure_status`` as {figure: status}; malformed parts are left to validate_row."""
        pairs = (part.partition("=") for part in self.figure_status.split(";") if part.strip())
        return {name.strip(): status.strip() for name, _, status in pairs}

    def status_of(self, figure: str) -> str:
        """The status of one figure: its override, else the row's."""
        return self.overrides().get(figure, self.status)

    def printed(self, figure: str) -> bool:
        """Whether a figure was read in print (verified or secondary), so may be audited as printed."""
        return self.status_of(figure) in PRINTED

    def value(self, column: str) -> float | None:
        text = getattr(self, column)
        return float(text) if text not in ("", "-") else None


@functools.cache
def reported_table() -> tuple[ReportedRow, ...]:
    """Every row of every shipped CSV file, in file order."""
    rows = []
    folder = resources.files("vbench.reporting") / "reported"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".csv"):
            continue
        with entry.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            if tuple(reader.fieldnames or ()) != COLUMNS:
                raise VbenchError(f"reported table {entry.name}: columns must be {', '.join(COLUMNS)}")
            for line, raw in enumerate(reader, start=2):
                rows.append(ReportedRow(**{k: (raw[k] or "").strip() for k in COLUMNS}, file=entry.name, line=line))
    return tuple(rows)


def rows_for(key: str) -> list[ReportedRow]:
    return [r for r in reported_table() if r.key == key]


def printed_tolerance(printed: str, relative: float = 0.01) -> float:
    """Allowed absolute difference: 1% of the figure, or half its last printed digit if larger."""
    value = float(printed)
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return max(relative * abs(value), 0.5 * 10 ** (-decimals))


@dataclass
class Audit:
    """A measured figure against a reported one."""

    row: ReportedRow
    quantity: str  # "params_m" or "gflops"
    reported: float
    measured: float
    tolerance: float
    by_convention: dict[str, float] | None = None  # GFLOPs under each convention when the source states none

    @property
    def status(self) -> str:
        return self.row.status_of(self.quantity)

    @property
    def difference(self) -> float:
        return self.measured - self.reported

    @property
    def relative(self) -> float:
        return self.difference / self.reported if self.reported else math.inf

    @property
    def ok(self) -> bool:
        values = self.by_convention.values() if self.by_convention else (self.measured,)
        return any(abs(v - self.reported) <= self.tolerance + 1e-12 for v in values)

    def describe(self) -> str:
        """One line: the measured figure (under each convention when none is stated) against the printed one."""
        head = f"{self.quantity} vs {self.row.gflops if self.quantity == 'gflops' else self.row.params_m} ({self.status})"
        if not self.by_convention:
            return f"{head}: measured {self.measured:.4g} ({100 * self.relative:+.1f}%)"
        each = ", ".join(f"{name} {value:.4g} ({100 * (value - self.reported) / self.reported:+.1f}%)"
                         for name, value in self.by_convention.items())
        return f"{head}, convention not stated: {each}"


def measured_gflops(record: dict, counting: str) -> float | None:
    """A profile record's GFLOPs under one counting convention (None where the record lacks it)."""
    if counting == "macs":
        return record.get("gflops")
    if counting == "macs-no-bn":
        return record.get("gflops_without_bn")
    if counting == "conv-fc":
        ops = record.get("gflops_by_op")
        return sum(ops.get(k, 0.0) for k in ("conv", "linear", "addmm", "matmul")) if ops else None
    raise VbenchError(f"unknown flops_counting '{counting}'")


def compare(row: ReportedRow, record: dict, quantities: tuple[str, ...] = ("params_m", "gflops")) -> list[Audit]:
    """A profile record's params and/or GFLOPs against the row's printed figures, in the row's units.

    The one comparison of measurement with print: tests hold checked rows to it (with a
    record from ``vbench.profiling.fidelity``) and reports write its audit column. A figure
    not printed, or not in the record, gives no audit. With ``flops_counting = unstated``
    the GFLOPs audit carries the figure under each convention and passes on any one.
    """
    binary = row.units == "binary"
    audits = []
    if "params_m" in quantities and row.value("params_m") is not None and record.get("params_m") is not None:
        measured = record["params_m"] * (1e6 / 2 ** 20 if binary else 1)
        audits.append(Audit(row, "params_m", float(row.params_m), measured, printed_tolerance(row.params_m)))
    if "gflops" in quantities and row.value("gflops") is not None:
        scale = 1e9 / 2 ** 30 if binary else 1
        conventions = CONVENTIONS if row.flops_counting == "unstated" else (row.flops_counting or "macs",)
        each = {name: measured_gflops(record, name) for name in conventions}
        each = {name: value * scale for name, value in each.items() if value is not None}
        if each:
            reported = float(row.gflops)
            closest = min(each.values(), key=lambda v: abs(v - reported))
            audits.append(Audit(row, "gflops", reported, closest, printed_tolerance(row.gflops),
                                each if row.flops_counting == "unstated" else None))
    return audits


def validate_row(row: ReportedRow) -> list[str]:
    """Schema problems of a row (empty when the row is well formed)."""
    problems = []
    where = f"{row.file}:{row.line}"
    if not row.method or not row.source:
        problems.append(f"{where}: method and source are required")
    if row.status not in STATUSES:
        problems.append(f"{where}: status must be one of {STATUSES}, got '{row.status}'")
    for figure, status in row.overrides().items():
        if figure not in FIGURES or status not in STATUSES:
            problems.append(f"{where}: figure_status must be 'figure=status; ...' with figures {FIGURES} "
                            f"and statuses {STATUSES}, got '{row.figure_status}'")
    if row.check not in ("yes", "no"):
        problems.append(f"{where}: check must be yes or no, got '{row.check}'")
    if row.reconstruction not in ("yes", "no"):
        problems.append(f"{where}: reconstruction must be yes or no, got '{row.reconstruction}'")
    if row.flops_counting and row.flops_counting not in FLOPS_COUNTING:
        problems.append(f"{where}: flops_counting must be one of {FLOPS_COUNTING}")
    if row.units and row.units not in UNITS:
        problems.append(f"{where}: units must be one of {UNITS}")
    for column in ("frames", "num_classes"):
        if getattr(row, column) and not getattr(row, column).isdigit():
            problems.append(f"{where}: {column} must be a whole number")
    for column in ("params_m", "gflops", "top1", "top5", "map", "rank1"):
        text = getattr(row, column)
        if text not in ("", "-"):
            try:
                float(text)
            except ValueError:
                problems.append(f"{where}: {column} '{text}' is not a number as printed")
    if row.input_size:
        try:
            row.size
        except ValueError:
            problems.append(f"{where}: input_size must be HxW, got '{row.input_size}'")
    if row.checked and not (row.key and row.frames is not None and row.input_size and row.num_classes):
        problems.append(f"{where}: a checked row needs key, frames (empty for images), input_size and num_classes")
    return problems


