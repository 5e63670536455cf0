"""How profile records read as a table (Markdown file and terminal)."""

from __future__ import annotations

from vbench.profiling.runner import FLOPS_CONVENTION, STABILITY_RULE

UNSTABLE_MARK = "!"
DIRTY_MARK = "*"
UNSTABLE_LEGEND = (f"{UNSTABLE_MARK} unstable latency ({STABILITY_RULE}), even after a second measurement at the "
                   "end of the run: a busy machine or too short a --time-budget; see machine_load in profile.json.")
DIRTY_LEGEND = f"{DIRTY_MARK} measured from a source tree with uncommitted changes (dirty)."
LEGACY_LEGEND = ("legacy record: made before vbench stored fingerprints; its time and revision may be those of a "
                 "later resume rather than of the measurement.")


def _num(value, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def latency_cell(record: dict) -> str:
    if record.get("latency_ms") is None:
        return "-"
    mark = UNSTABLE_MARK if record.get("latency_stable") is False else ""
    return f"{record['latency_ms']:.1f} ({record['latency_iqr_ms']:.1f}){mark}"


def profile_rows(records: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Column names and formatted cells, one row a record."""
    columns = ["Model", "Input", "Batch", "Params (M)", "GFLOPs/view", "Latency ms (IQR)",
               "Clips/s", "Peak mem (MiB)", "Device", "Precision", "Status"]
    rows = []
    for r in records:
        frames = f"{r['frames']}x" if r.get("frames") else ""
        status = r["status"] if r["status"] == "ok" else f"failed: {r.get('error') or ''}"
        status += " (legacy record)" if r.get("legacy") else ""
        name = r["model"] + (" [reconstruction]" if r.get("reconstruction") else "")
        name += DIRTY_MARK if r.get("dirty") else ""
        rows.append([name, f"{frames}{r['size']}", str(r["batch_size"]), _num(r.get("params_m"), 2),
                     _num(r.get("gflops"), 2), latency_cell(r), _num(r.get("throughput"), 2),
                     _num(r.get("peak_memory_mb"), 0), r.get("device_name") or r["device"], r["precision"], status])
    return columns, rows


def legend_for(records: list[dict]) -> str:
    """The legend lines for the marks these records carry (empty when none)."""
    parts = []
    if any(r.get("latency_stable") is False for r in records):
        parts.append(UNSTABLE_LEGEND)
    if any(r.get("dirty") for r in records):
        parts.append(DIRTY_LEGEND)
    if any(r.get("legacy") for r in records):
        parts.append(LEGACY_LEGEND)
    return " ".join(parts)


def profile_markdown(records: list[dict]) -> str:
    columns, rows = profile_rows(records)
    escape = lambda cell: cell.replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    caption = (f"{FLOPS_CONVENTION}. Latency: median (interquartile range) of one forward pass of the batch; "
               "peak memory: see each record's memory_method in profile.json.")
    legend = legend_for(records)
    return "\n".join(lines) + "\n\n" + caption + "\n" + (f"\n{legend}\n" if legend else "")


PHASES = ("build", "params", "flops", "latency", "memory", "remeasure")


def phase_rows(records: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Seconds spent in each phase, one row a model (its batch sizes added up), and a total row."""
    per_model: dict[str, dict[str, float]] = {}
    for r in records:
        seconds = per_model.setdefault(r["model"], {})
        for phase, value in (r.get("phase_s") or {}).items():
            seconds[phase] = seconds.get(phase, 0.0) + value
    columns = ["Model", *(p.capitalize() + " s" for p in PHASES), "Total s"]
    totals = {p: sum(m.get(p, 0.0) for m in per_model.values()) for p in PHASES}
    rows = [[name, *(f"{m.get(p, 0.0):.1f}" for p in PHASES), f"{sum(m.values()):.1f}"]
            for name, m in [*per_model.items(), ("all", totals)]]
    return columns, rows
