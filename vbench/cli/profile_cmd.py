"""``vbench profile``: params, GFLOPs, latency, throughput and peak memory of models."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vbench.results import DEFAULT_OUT
from vbench.cli.app import app, err, out, user_errors
from vbench.cli.plugins_opt import PLUGIN, use_plugins
from vbench.errors import VbenchError

EXAMPLES = """Examples:

  vbench profile --all

  vbench profile -m tea_r50 -m tsm_r50 --frames 16 --device cuda --precision fp16

  vbench profile -m tsm_r50 --depth 18 --batch-size 1 --batch-size 8 --metrics params,flops

  vbench profile -m tsm_r50 --optimize      # eager and deploy-mode latency side by side
"""


@app.command("profile", epilog=EXAMPLES)
@user_errors
def profile_command(
    model: list[str] = typer.Option(None, "--model", "-m", help="Model to profile (repeatable)."),
    all_models: bool = typer.Option(False, "--all", help="Profile every model of the zoo (and of the --plugin files)."),
    frames: int = typer.Option(None, "--frames", help="Frames per clip (default: each model's own)."),
    size: str = typer.Option(None, "--size", help="Input size: 224 or HxW such as 256x128 (default: model's)."),
    batch_size: list[int] = typer.Option([1], "--batch-size", "-b", help="Batch size (repeat for a sweep)."),
    num_classes: int = typer.Option(None, "--num-classes", help="Classes of the head (default: model's)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda (auto falls back to the CPU)."),
    precision: str = typer.Option("fp32", "--precision", help="fp32, fp16 or bf16 (autocast)."),
    channels_last: bool = typer.Option(False, "--channels-last", help="Channels-last memory format."),
    compile_model: bool = typer.Option(False, "--compile", help="torch.compile the model before timing."),
    optimize: bool = typer.Option(False, "--optimize", help="Also time the deploy-mode model (BN folded, "
                                  "channels-last and torch.compile each where not slower, inference mode) beside "
                                  "the eager one, with the speed-up from alternated timings; records go to "
                                  "profile-optimized.json/.csv/.md."),
    depth: int = typer.Option(None, "--depth", help="ResNet depth (18/34/50/101) where a model allows it."),
    metrics: str = typer.Option("params,flops,latency,memory", "--metrics", help="Any subset, comma-separated."),
    peak: bool = typer.Option(False, "--peak", help="Also measure the device's matmul peak and the fraction reached."),
    time_budget: float = typer.Option(10.0, "--time-budget", help="Seconds at most per latency measurement."),
    out_dir: Path = typer.Option(Path(DEFAULT_OUT), "--out", help="Folder for profile.json/.csv/.md."),
    resume: bool = typer.Option(False, "--resume", help="Skip the records already in --out."),
    as_json: bool = typer.Option(False, "--json", help="Print the records as a JSON list on stdout, nothing else."),
    verbose: bool = typer.Option(False, "--verbose", help="Also show where the run's time went, model by model."),
    flop_cache: bool = typer.Option(True, "--flop-cache/--no-flop-cache",
                                    help="Reuse FLOP counts stored for the same model code, arguments and input."),
    plugin: list[str] = PLUGIN,
) -> None:
    """Measure params, GFLOPs per view, latency, throughput and peak memory of models."""
    use_plugins(plugin)
    from vbench.profiling.runner import ProfileSettings, parse_size, profile, resolve_model_names
    from vbench.profiling.records import (FLOPS_CONVENTION, OPTIMIZED_CONVENTION, legend_for, phase_rows,
                                          profile_rows, unstable_records)

    if not model and not all_models:
        raise VbenchError("name the models to profile with -m NAME (repeatable), or use --all")
    if model and all_models:
        raise VbenchError("give either -m NAME or --all, not both")
    settings = ProfileSettings(
        frames=frames, size=parse_size(size), batch_sizes=tuple(batch_size), num_classes=num_classes,
        device=device, precision=precision, channels_last=channels_last, compile=compile_model, depth=depth,
        metrics=tuple(m.strip() for m in metrics.split(",") if m.strip()), peak=peak, time_budget_s=time_budget,
        flop_cache=flop_cache, optimize=optimize,
    )
    settings.validate()
    from vbench.runtime.device import resolve_device

    _, note = resolve_device(device)
    if note:
        err.print(f"[yellow]note:[/] {note}")
    names = resolve_model_names(model or None, depth)
    started = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=as_json) as progress:
        task = progress.add_task("profiling", total=len(names) * len(settings.batch_sizes))

        def on_start(name: str, pending: int) -> None:
            progress.update(task, description=f"profiling {name}")

        def on_record(record: dict) -> None:
            progress.advance(task)
            if record["status"] != "ok":
                progress.console.print(f"[red]failed[/] {record['model']}: {record['error']}", highlight=False)

        def on_note(text: str) -> None:
            progress.console.print(f"[yellow]note:[/] {text}", highlight=False)

        records = profile(names, settings, out_dir=out_dir, resume=resume, on_start=on_start, on_record=on_record,
                          on_note=on_note)
    if as_json:
        print(json.dumps(records, indent=1))
    else:
        columns, rows = profile_rows(records)
        shown = [i for i, c in enumerate(columns) if c not in ("Device", "Precision")]
        devices = sorted({f"{r.get('device_name') or r['device']}, {r['precision']}" for r in records})
        caption = f"{FLOPS_CONVENTION}. Latency: median (IQR) per batch. "
        caption += f"{OPTIMIZED_CONVENTION}. " if optimize else ""
        table = Table(title=f"vbench profile on {'; '.join(devices)}", title_justify="left",
                      caption=caption + legend_for(records))
        for i in shown:
            table.add_column(columns[i], no_wrap=i == 0, overflow="fold")
        for row in rows:
            table.add_row(*(row[i] for i in shown))
        out.print(table)
        if verbose:
            columns, rows = phase_rows(records)
            phases = Table(title="where the time went (seconds of wall clock)", title_justify="left")
            for column in columns:
                phases.add_column(column, justify="left" if column == "Model" else "right")
            for row in rows:
                phases.add_row(*row)
            out.print(phases)
        stem = "profile-optimized" if optimize else "profile"
        err.print(f"{len(records)} records in {time.perf_counter() - started:.0f} s; written to "
                  f"{out_dir}/{stem}.json, .csv and .md")
    unstable = unstable_records(records)
    if unstable:
        names_given = " ".join(f"-m {r['model']}" for r in unstable)
        err.print(f"[yellow]unstable latency[/] (IQR above 10% of the median, or a busy machine, after a second "
                  f"measurement) for "
                  f"{', '.join(sorted({r['model'] for r in unstable}))}: the machine was busy (see cpu_share and machine_load) or "
                  f"--time-budget is short; measure them again on a quiet machine: vbench profile {names_given}",
                  highlight=False, soft_wrap=True)
    if any(r["status"] != "ok" for r in records):
        raise typer.Exit(1)
