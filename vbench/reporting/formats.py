"""Comparison rows as Markdown, CSV, LaTeX (booktabs) and a self-contained HTML page.

Every figure a paper reported carries its status as a mark (``MARKS``), explained by a
legend line under the table, so that a recalled or computed number never reads as
printed; unmarked figures were measured by vbench. The CSV has a status column per
figure instead. The caption states the conventions: GFLOPs are multiply-accumulates per
view, "x N" the number of views an accuracy was measured with.

One DataFrame of cell texts (``comparison_frame``) is written by pandas: ``to_markdown``
(tabulate), ``to_csv``, ``Styler.to_latex`` and ``Styler.to_html``; this module only decides
what a cell says.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from dataclasses import asdict

import pandas as pd

from vbench.reporting.comparison import ComparisonRow

COLUMNS = ("Method", "Model", "Backbone", "Frames", "GFLOPs x views", "Params (M)", "Latency (ms)",
           "Throughput (clips/s)", "Top-1", "Top-5", "Audit")
REID_COLUMNS = ("Method", "Model", "Backbone", "Frames", "GFLOPs x views", "Params (M)", "Latency (ms)",
                "Throughput (clips/s)", "mAP", "Rank-1", "Audit")

# Mark of a reported figure, by status (text; LaTeX has its own in LATEX_MARKS).
MARKS = {"verified": "*", "secondary": "\u2020", "unverified": "?", "derived": "\u2021"}
LATEX_MARKS = {"verified": r"$^{*}$", "secondary": r"$^{\dagger}$", "unverified": r"$^{?}$",
               "derived": r"$^{\ddagger}$"}
MEANINGS = {"verified": "reported, verified in the source", "secondary": "reported, read in a secondary source",
            "unverified": "reported, not verified in the source", "derived": "derived by vbench, not printed"}

Mark = Callable[[str, str], str]  # (cell text, status) -> marked text

# Marks of measured figures whose provenance a reader must weigh (explained by notes).
UNSTABLE_MARK = "!"
PROVENANCE_MARK = "\u00a7"


def _is_reid(rows: list[ComparisonRow]) -> bool:
    return any(r.map is not None or r.rank1 is not None for r in rows) and not any(r.top1 is not None for r in rows)


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def text_mark(text: str, status: str | None) -> str:
    """A figure with its status mark; measured figures and missing ones stay bare."""
    return text + MARKS[status] if status in MARKS and text != "-" else text


def _figures(row: ComparisonRow, reid: bool) -> list[str]:
    return ["gflops", "params_m", *(("map", "rank1") if reid else ("top1", "top5"))]


def _cells(row: ComparisonRow, reid: bool, mark: Mark = text_mark) -> list[str]:
    gflops = _fmt(row.gflops, 1)
    if row.gflops is not None and row.num_views:
        gflops = f"{gflops} x {row.num_views}"
    gflops = mark(gflops, row.status("gflops"))
    params = mark(_fmt(row.params_m, 1), row.status("params_m"))
    first, second = ("map", "rank1") if reid else ("top1", "top5")
    accuracy = [mark(_fmt(getattr(row, f), 1), row.status(f)) for f in (first, second)]
    latency = "-" if row.latency_ms is None else f"{row.latency_ms:.1f}"
    if row.latency_stable is False and latency != "-":
        latency += UNSTABLE_MARK
    throughput = "-" if row.throughput is None else f"{row.throughput:.1f} (b{row.batch_size})"
    method = row.method + (" (reconstruction)" if row.reconstruction else "") + (" (user)" if row.user_model else "")
    audit = "; ".join(a.split(" [")[0] for a in row.audit) if row.audit else ""
    if row.flagged:
        audit = "FLAG: " + audit
    model = (row.model or "-") + (PROVENANCE_MARK if row.dirty or row.legacy else "")
    return [method, model, row.backbone or "-", str(row.frames or "-"), gflops, params, latency,
            throughput, *accuracy, audit or "-"]


def provenance_notes(rows: list[ComparisonRow]) -> list[str]:
    """Lines under a table naming the measured rows a reader must weigh, and why."""
    def names(selected) -> str:
        return ", ".join(sorted({r.model or r.method for r in selected}))

    notes = []
    unstable = [r for r in rows if r.latency_stable is False and r.latency_ms is not None]
    if unstable:
        notes.append(f"{UNSTABLE_MARK} latency unstable (IQR above 10% of the median, even measured a second time): "
                     f"{names(unstable)}; the machine was busy, measure again on a quiet one.")
    dirty = [r for r in rows if r.dirty]
    if dirty:
        notes.append(f"{PROVENANCE_MARK} measured from a source tree with uncommitted changes (dirty): {names(dirty)}.")
    legacy = [r for r in rows if r.legacy]
    if legacy:
        notes.append(f"{PROVENANCE_MARK} legacy records (made before vbench stored fingerprints; their time and "
                     f"revision may be a later resume's): {names(legacy)}.")
    return notes


def statuses_shown(rows: Iterable[ComparisonRow]) -> list[str]:
    """The reported statuses that appear in the table, in MARKS order."""
    rows = list(rows)
    seen = {row.status(f) for row in rows for f in _figures(row, _is_reid(rows))}
    return [s for s in MARKS if s in seen]


def legend(rows: list[ComparisonRow], marks: dict[str, str] = MARKS) -> str:
    """One line explaining each mark used in the table."""
    parts = [f"{marks[s]} {MEANINGS[s]}" for s in statuses_shown(rows)]
    return "Marks: " + "; ".join(parts + ["unmarked: measured by vbench"]) + "."


def caption(rows: list[ComparisonRow], dataset: str | None) -> str:
    devices = sorted({r.device for r in rows if r.device})
    measured_on = f" Latency and throughput measured on {', '.join(devices)}." if devices else ""
    where = f" on {dataset}" if dataset else ""
    return (f"Comparison{where}. GFLOPs are multiply-accumulates per view; 'x N' is the number of views "
            f"(clips x crops) the accuracy uses. Marked values are reported (see the marks); the others were "
            f"measured by vbench.{measured_on} Audit: measured params/GFLOPs against the paper's figure at the "
            f"same setting and class count, with that figure's status; FLAG when off by more than 1% (or the "
            f"printed rounding); where the source does not state how it counted, every convention is shown.")


def comparison_frame(rows: list[ComparisonRow], mark: Mark = text_mark) -> pd.DataFrame:
    """The table as shown: one row of cell texts per comparison row, the columns named as printed."""
    reid = _is_reid(rows)
    return pd.DataFrame([_cells(row, reid, mark) for row in rows], columns=list(REID_COLUMNS if reid else COLUMNS),
                        dtype=object)


def to_markdown(rows: list[ComparisonRow], dataset: str | None = None, notes: Iterable[str] = ()) -> str:
    cells = comparison_frame(rows).map(lambda c: c.replace("|", "\\|"))
    table = cells.to_markdown(index=False, stralign=None, numalign=None, disable_numparse=True)
    text = table + "\n\n" + legend(rows).replace("*", "\\*") + "\n\n" + caption(rows, dataset) + "\n"
    return text + "".join(f"\n{note}\n" for note in notes)


def to_csv(rows: list[ComparisonRow]) -> str:
    """One line a row; ``*_status`` columns give each figure's status (measured or the reported one)."""
    records = pd.DataFrame([asdict(row) for row in rows], columns=list(ComparisonRow.__dataclass_fields__),
                           dtype=object)
    records["audit"] = records["audit"].map("; ".join)
    return records.to_csv(index=False, lineterminator="\n")


_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _latex_token(status: str) -> str:
    return f"MARK{status.upper()}MARK"  # survives latex_escape, replaced after it


def _latex_marks(text: str) -> str:
    for status, mark in LATEX_MARKS.items():
        text = text.replace(_latex_token(status), mark)
    return text


def _latex_cell(text: str) -> str:
    return _latex_marks(latex_escape(text).replace(" x ", r" $\times$ "))


def to_latex(rows: list[ComparisonRow], dataset: str | None = None, label: str = "tab:vbench",
             notes: Iterable[str] = ()) -> str:
    """A booktabs table; needs ``\\usepackage{booktabs}`` in the preamble."""
    def mark(text: str, status: str | None) -> str:
        return text + _latex_token(status) if status in MARKS and text != "-" else text

    cells = comparison_frame(rows, mark).iloc[:, :-1]  # the audit stays out of a paper table
    tokens = {s: _latex_token(s) for s in MARKS}
    text = " ".join([legend(rows, tokens), caption(rows, dataset), *notes])
    styler = (cells.style.hide(axis="index").format(_latex_cell).format_index(latex_escape, axis="columns")
              .set_caption(_latex_marks(latex_escape(text))).set_table_styles([{"selector": "small", "props": ":;"}]))
    return styler.to_latex(hrules=True, environment="table", position="t", position_float="centering", label=label,
                           column_format="l" * 3 + "r" * (cells.shape[1] - 3))


def _html_cell(text: str) -> str:
    """A cell; a marked (reported) figure in italics with its mark and the mark's meaning on hover,
    a flagged audit in a ``flag`` span (the style sheet shades its row)."""
    for status, mark in MARKS.items():
        if text != mark and text.endswith(mark) and text[:-1] and text[-2].isdigit():
            return f'<em>{html.escape(text[:-1])}</em><span title="{MEANINGS[status]}">{html.escape(mark)}</span>'
    if text.startswith("FLAG: "):
        return f'<span class="flag">{html.escape(text)}</span>'
    return html.escape(text)


def to_html(rows: list[ComparisonRow], dataset: str | None = None, title: str = "vbench comparison",
            notes: Iterable[str] = ()) -> str:
    below = "".join(f"<p>{html.escape(line)}</p>" for line in (legend(rows), caption(rows, dataset), *notes))
    table = (comparison_frame(rows).style.hide(axis="index").format(_html_cell)
             .format_index(html.escape, axis="columns").set_caption(below).to_html(exclude_styles=True))
    style = ("body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
             "th,td{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}"
             "th:nth-child(-n+3),td:nth-child(-n+3),td:last-child{text-align:left}tr:has(.flag) td{background:#fee}"
             "caption{caption-side:bottom;text-align:left;color:#555;padding-top:8px;max-width:60em}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>\n{table}</body></html>\n")
