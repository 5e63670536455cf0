"""Comparison rows as Markdown, CSV, LaTeX (booktabs) and a self-contained HTML page.

Cells from a paper are marked (``*`` in text, a dagger in LaTeX, italics in HTML); the
others were measured by vbench. The caption states the conventions: GFLOPs are
multiply-accumulates per view, "x N" the number of views an accuracy was measured with.
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import asdict

from vbench.reporting.comparison import ComparisonRow

COLUMNS = ("Method", "Model", "Backbone", "Frames", "GFLOPs x views", "Params (M)", "Latency (ms)",
           "Throughput (clips/s)", "Top-1", "Top-5", "Audit")
REID_COLUMNS = ("Method", "Model", "Backbone", "Frames", "GFLOPs x views", "Params (M)", "Latency (ms)",
                "Throughput (clips/s)", "mAP", "Rank-1", "Audit")


def _is_reid(rows: list[ComparisonRow]) -> bool:
    return any(r.map is not None or r.rank1 is not None for r in rows) and not any(r.top1 is not None for r in rows)


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _cells(row: ComparisonRow, reid: bool, mark: callable) -> list[str]:
    gflops = _fmt(row.gflops, 1)
    if row.gflops is not None and row.num_views:
        gflops = f"{gflops} x {row.num_views}"
    if row.gflops_source == "reported":
        gflops = mark(gflops)
    params = _fmt(row.params_m, 1)
    params = mark(params) if row.params_source == "reported" and row.params_m is not None else params
    first, second = (row.map, row.rank1) if reid else (row.top1, row.top5)
    accuracy = [_fmt(first, 1), _fmt(second, 1)]
    if row.accuracy_source == "reported":
        accuracy = [mark(a) if a != "-" else a for a in accuracy]
    latency = "-" if row.latency_ms is None else f"{row.latency_ms:.1f}"
    throughput = "-" if row.throughput is None else f"{row.throughput:.1f} (b{row.batch_size})"
    method = row.method + (" (reconstruction)" if row.reconstruction else "") + (" (user)" if row.user_model else "")
    audit = "; ".join(a.split(" [")[0] for a in row.audit) if row.audit else ""
    if row.flagged:
        audit = "FLAG: " + audit
    return [method, row.model or "-", row.backbone or "-", str(row.frames or "-"), gflops, params, latency,
            throughput, *accuracy, audit or "-"]


def caption(rows: list[ComparisonRow], dataset: str | None) -> str:
    devices = sorted({r.device for r in rows if r.device})
    measured_on = f" Latency and throughput measured on {', '.join(devices)}." if devices else ""
    where = f" on {dataset}" if dataset else ""
    return (f"Comparison{where}. GFLOPs are multiply-accumulates per view; 'x N' is the number of views "
            f"(clips x crops) the accuracy uses. Values marked * are reported by the papers; the others were "
            f"measured by vbench.{measured_on} Audit: measured params/GFLOPs against the paper's figure at the "
            f"same setting; FLAG when off by more than 1% (or the printed rounding).")


def to_markdown(rows: list[ComparisonRow], dataset: str | None = None) -> str:
    reid = _is_reid(rows)
    columns = REID_COLUMNS if reid else COLUMNS
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in _cells(row, reid, lambda s: s + "*")) + " |")
    return "\n".join(lines) + "\n\n" + caption(rows, dataset) + "\n"


def to_csv(rows: list[ComparisonRow]) -> str:
    buffer = io.StringIO()
    fields = list(asdict(rows[0]).keys()) if rows else list(ComparisonRow.__dataclass_fields__)
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        record = asdict(row)
        record["audit"] = "; ".join(row.audit)
        writer.writerow(record)
    return buffer.getvalue()


_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def to_latex(rows: list[ComparisonRow], dataset: str | None = None, label: str = "tab:vbench") -> str:
    """A booktabs table; needs ``\\usepackage{booktabs}`` in the preamble."""
    reid = _is_reid(rows)
    columns = (REID_COLUMNS if reid else COLUMNS)[:-1]  # the audit stays out of a paper table
    body = []
    for row in rows:
        cells = _cells(row, reid, lambda s: s + "MARK")[:-1]
        body.append(" & ".join(latex_escape(c).replace(" x ", r" $\times$ ").replace("MARK", r"$^\dagger$")
                               for c in cells) + r" \\")
    text = caption(rows, dataset).replace("Values marked *", r"Values marked $^\dagger$")
    return "\n".join([
        r"\begin{table}[t]", r"\centering", r"\small",
        r"\begin{tabular}{" + "l" * 3 + "r" * (len(columns) - 3) + "}", r"\toprule",
        " & ".join(latex_escape(c) for c in columns) + r" \\", r"\midrule", *body, r"\bottomrule",
        r"\end{tabular}", r"\caption{" + latex_escape(text).replace(r"\$\textasciicircum{}\textbackslash{}dagger\$",
                                                                      r"$^\dagger$") + "}",
        r"\label{" + label + "}", r"\end{table}", ""])


def to_html(rows: list[ComparisonRow], dataset: str | None = None, title: str = "vbench comparison") -> str:
    reid = _is_reid(rows)
    columns = REID_COLUMNS if reid else COLUMNS
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = _cells(row, reid, lambda s: s + "\u2020")
        klass = ' class="flag"' if row.flagged else ""
        body.append(f"<tr{klass}>" + "".join(
            f"<td><em>{html.escape(c[:-1])}</em>*</td>" if c.endswith("\u2020") else f"<td>{html.escape(c)}</td>"
            for c in cells) + "</tr>")
    style = ("body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
             "th,td{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}"
             "th:nth-child(-n+3),td:nth-child(-n+3),td:last-child{text-align:left}tr.flag td{background:#fee}"
             "caption{caption-side:bottom;text-align:left;color:#555;padding-top:8px;max-width:60em}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody><caption>{html.escape(caption(rows, dataset))}</caption></table>"
            "</body></html>\n")
