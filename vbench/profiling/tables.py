"""How profile records read as a table (Markdown file and terminal)."""

from __future__ import annotations

from vbench.profiling.runner import FLOPS_CONVENTION


def _num(value, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def profile_rows(records: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Column names and formatted cells, one row a record."""
    columns = ["Model", "Input", "Batch", "Params (M)", "GFLOPs/view", "Latency ms (IQR)",
               "Clips/s", "Peak mem (MiB)", "Device", "Precision", "Status"]
    rows = []
    for r in records:
        frames = f"{r['frames']}x" if r.get("frames") else ""
        latency = "-" if r.get("latency_ms") is None else f"{r['latency_ms']:.1f} ({r['latency_iqr_ms']:.1f})"
        status = r["status"] if r["status"] == "ok" else f"failed: {r.get('error') or ''}"
        name = r["model"] + (" [reconstruction]" if r.get("reconstruction") else "")
        rows.append([name, f"{frames}{r['size']}", str(r["batch_size"]), _num(r.get("params_m"), 2),
                     _num(r.get("gflops"), 2), latency, _num(r.get("throughput"), 2),
                     _num(r.get("peak_memory_mb"), 0), r.get("device_name") or r["device"], r["precision"], status])
    return columns, rows


def profile_markdown(records: list[dict]) -> str:
    columns, rows = profile_rows(records)
    escape = lambda cell: cell.replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    caption = (f"{FLOPS_CONVENTION}. Latency: median (interquartile range) of one forward pass of the batch; "
               "peak memory: see each record's memory_method in profile.json.")
    return "\n".join(lines) + "\n\n" + caption + "\n"
