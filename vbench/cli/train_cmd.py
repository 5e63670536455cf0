"""``vbench train``: one recipe for every model (DREAL as an option), also under torchrun."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from vbench.results import DEFAULT_OUT
from vbench.cli.app import LazyProgress, app, out, user_errors
from vbench.cli.plugins_opt import PLUGIN, use_plugins
from vbench.cli.data_cmd import parse_options

EXAMPLES = """Examples:

  vbench train --dataset synthetic -m tsm_r50 --depth 18 --frames 8 --size 64 --epochs 3 --seed 0

  vbench train --dataset ucf101 --root DATA --split 1 -m tsm_r50 --init resnet50-imagenet.pth --epochs 25

  vbench train --dataset synthetic -m tsn_eca_r50 --depth 18 --size 64 --dreal

  torchrun --nproc_per_node=2 -m vbench train --dataset synthetic -m tsm_r50 --depth 18 --size 64
"""


@app.command("train", epilog=EXAMPLES)
@user_errors
def train_command(
    dataset: str = typer.Option(..., "--dataset", help="Dataset name; synthetic needs no data."),
    model: str = typer.Option(..., "--model", "-m", help="Model to train."),
    root: str = typer.Option(None, "--root", help="Folder holding the dataset as distributed."),
    split: int = typer.Option(None, "--split", help="Official split (1-3 for UCF101/HMDB51)."),
    epochs: int = typer.Option(3, "--epochs", help="Epochs."),
    batch_size: int = typer.Option(8, "--batch-size", help="Global batch (split over torchrun processes)."),
    lr: float = typer.Option(0.005, "--lr", help="Learning rate of the global batch (cosine, linear warm-up); "
                                               "scale it linearly with --batch-size."),
    weight_decay: float = typer.Option(5e-4, "--weight-decay", help="Weight decay (weights only)."),
    warmup: float = typer.Option(1.0, "--warmup-epochs", help="Linear warm-up, in epochs."),
    depth: int = typer.Option(None, "--depth", help="ResNet depth where the model allows it."),
    frames: int = typer.Option(8, "--frames", help="Frames per clip (TSN segments)."),
    size: int = typer.Option(224, "--size", help="Crop size in pixels."),
    scale_size: int = typer.Option(None, "--scale-size", help="Short side before cropping (default size*256/224)."),
    dropout: float = typer.Option(None, "--dropout", help="Dropout before the classifier (model default)."),
    init: str = typer.Option(None, "--init", help="Start from a checkpoint or a torchvision ImageNet ResNet."),
    seed: int = typer.Option(0, "--seed", help="Seed of initialisation, sampling and augmentation."),
    workers: int = typer.Option(2, "--workers", help="DataLoader worker processes."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    precision: str = typer.Option("fp32", "--precision", help="fp32, fp16 or bf16 (autocast)."),
    channels_last: bool = typer.Option(False, "--channels-last", help="Channels-last memory format."),
    dreal: bool = typer.Option(False, "--dreal", help="Train the attention modules with DREAL (reconstruction)."),
    option: list[str] = typer.Option([], "--option", "-o", help="Dataset option KEY=VALUE (repeatable)."),
    limit_train: int = typer.Option(None, "--limit-train", help="Train on the first N videos only."),
    limit_val: int = typer.Option(None, "--limit-val", help="Validate on the first N videos only."),
    out_dir: Path = typer.Option(Path(DEFAULT_OUT), "--out", help="Folder for checkpoints and train records."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the last finished epoch."),
    max_unreadable: float = typer.Option(0.005, "--max-unreadable", metavar="FRACTION",
                                         help="Stop when more than this fraction of the validation videos cannot "
                                              "be read (1 accepts any number)."),
    as_json: bool = typer.Option(False, "--json", help="Print the final record as JSON on stdout, nothing else."),
    plugin: list[str] = PLUGIN,
) -> None:
    """Train a model with vbench's one recipe and validate it each epoch."""
    use_plugins(plugin)
    from vbench.training.engine import TrainSettings, train
    from vbench.training.recipe import Recipe

    settings = TrainSettings(
        dataset=dataset, model=model, root=root, split=split, epochs=epochs, batch_size=batch_size,
        recipe=Recipe(lr=lr, weight_decay=weight_decay, warmup_epochs=warmup), depth=depth, frames=frames,
        size=size, short_side=scale_size, init=init, seed=seed, workers=workers, device=device,
        precision=precision, channels_last=channels_last, dreal=dreal, dropout=dropout, limit_train=limit_train,
        limit_val=limit_val, out=str(out_dir), resume=resume, max_unreadable=max_unreadable,
        dataset_options=parse_options(option))
    main_rank = os.environ.get("RANK", "0") == "0"
    with LazyProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[status]}"), TimeElapsedColumn(), transient=as_json,
                      disable=not main_rank) as progress:

        def on_step(state: dict) -> None:
            progress.update(description=f"epoch {state['epoch'] + 1}/{epochs}", completed=state["step"],
                            total=state["steps"], status=f"loss {state['loss']:.3f} lr {state['lr']:.4f} "
                                                         f"{state['clips_per_s']:.1f} clips/s")

        def on_epoch(entry: dict) -> None:
            accuracy = "" if entry["top1"] is None else f", top-1 {entry['top1']:.2f}"
            progress.print(f"epoch {entry['epoch'] + 1}: loss {entry['loss']:.4f}{accuracy}")

        def on_note(text: str) -> None:
            progress.print(f"[yellow]note:[/] {text}")

        record = train(settings, on_step=on_step, on_epoch=on_epoch, on_note=on_note)
    if record is None:
        return
    if as_json:
        print(json.dumps(record, indent=1))
        return
    table = Table(title=f"vbench train: {record['model']} on {record['dataset']}", title_justify="left")
    for column in ("Epochs", "Top-1", "Top-5", "Best top-1", "Time (s)", "Checkpoint"):
        table.add_column(column)
    table.add_row(str(record["epochs"]), _pct(record["top1"]), _pct(record["top5"]), _pct(record["best_top1"]),
                  str(record["time_s"]), record["checkpoint"])
    out.print(table)


def _pct(value) -> str:
    return "-" if value is None else f"{value:.2f}"
