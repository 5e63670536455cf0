"""``vbench eval``: multi-view accuracy on a dataset split (also under torchrun)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from vbench.results import DEFAULT_OUT
from vbench.cli.app import LazyProgress, app, err, out, user_errors
from vbench.cli.plugins_opt import PLUGIN, use_plugins
from vbench.cli.data_cmd import parse_options

EXAMPLES = """Examples:

  vbench eval --dataset synthetic -m tsm_r50 --depth 18 --frames 8 --size 64

  vbench eval --weights tsm_r50.k400_dense_8f --root DATA        (official weights: model, frames, protocol)

  vbench eval --dataset ucf101 --root DATA --split 1 -m tsm_r50 --checkpoint ckpt.pth --frames 8 --clips 1 --crops 1

  vbench eval --dataset sthv1 --root DATA -m tsm_r50 --checkpoint TSM_sth.pth --protocol tsm-sthv1

  torchrun --nproc_per_node=2 -m vbench eval --dataset kinetics400 --root DATA -m tsm_r50 --protocol tsm-dense-10x3

  vbench eval --rescore results/eval/<scores_id> --average score

  vbench eval --dataset mars --root DATA -m mstat_vitb16 --checkpoint ckpt.pth --protocol query-removed

  vbench eval --rescore results/eval/<scores_id>/features.npz --protocol official --distance cosine
"""


@app.command("eval", epilog=EXAMPLES)
@user_errors
def eval_command(
    dataset: str = typer.Option(None, "--dataset", help="Dataset name (vbench data list); synthetic needs no data."),
    model: str = typer.Option(None, "--model", "-m", help="Model to evaluate."),
    root: str = typer.Option(None, "--root", help="Folder holding the dataset as distributed."),
    split: int = typer.Option(None, "--split", help="Official split (1-3 for UCF101/HMDB51)."),
    subset: str = typer.Option("test", "--subset", help="Which part of the split: test (default) or train."),
    checkpoint: str = typer.Option(None, "--checkpoint", help="vbench or official checkpoint of the model."),
    weights: str = typer.Option(None, "--weights", help="Official weights by name (vbench models --weights): model, "
                                                        "frames, classes and protocol from the entry, the file "
                                                        "downloaded (or --checkpoint PATH)."),
    non_strict: bool = typer.Option(False, "--non-strict", help="Accept a checkpoint that does not fit fully."),
    trusted: bool = typer.Option(False, "--trusted", help="Allow a checkpoint that pickles Python objects."),
    depth: int = typer.Option(None, "--depth", help="ResNet depth where the model allows it."),
    protocol: str = typer.Option(None, "--protocol", help="A paper's test views (tsm-sthv1, tsm-dense-10x3...); "
                                                          "re-id: the gallery convention (official, query-removed, "
                                                          "query-included)."),
    frames: int = typer.Option(None, "--frames", help="Frames per clip."),
    clips: int = typer.Option(None, "--clips", help="Clips per video."),
    crops: int = typer.Option(None, "--crops", help="Crops per clip: 1, 3, 5 or 10."),
    size: int = typer.Option(None, "--size", help="Crop size in pixels."),
    scale_size: int = typer.Option(None, "--scale-size", help="Short side the frames are resized to."),
    sampling: str = typer.Option(None, "--sampling", help="segment (TSN) or dense."),
    average: str = typer.Option(None, "--average", help="softmax (default) or score: how views are fused."),
    batch_size: int = typer.Option(1, "--batch-size", help="Videos per forward pass."),
    workers: int = typer.Option(2, "--workers", help="DataLoader worker processes."),
    prefetch: int = typer.Option(2, "--prefetch", help="Batches each worker keeps ready."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    precision: str = typer.Option("fp32", "--precision", help="fp32, fp16 or bf16 (autocast)."),
    channels_last: bool = typer.Option(False, "--channels-last", help="Channels-last memory format."),
    decoder: str = typer.Option("pyav", "--decoder", help="pyav (default), torchcodec or decord if installed."),
    limit: int = typer.Option(None, "--limit", help="Evaluate only the first N videos (a quick check)."),
    distance: str = typer.Option("euclidean", "--distance", help="Re-id: euclidean or cosine."),
    test_sampling: str = typer.Option("dense", "--test-sampling", help="Re-id: dense, all or evenly."),
    seq_len: int = typer.Option(None, "--seq-len", help="Re-id: frames per chunk (default: the model's)."),
    trial: int = typer.Option(None, "--trial", help="Re-id: one trial of iLIDS-VID / PRID-2011 (default: mean)."),
    option: list[str] = typer.Option([], "--option", "-o", help="Dataset option KEY=VALUE (repeatable)."),
    out_dir: Path = typer.Option(Path(DEFAULT_OUT), "--out", help="Folder for eval records and scores."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the per-video scores already written."),
    max_unreadable: float = typer.Option(0.005, "--max-unreadable", metavar="FRACTION",
                                         help="Fail, recording no accuracy, when more than this fraction of the "
                                              "videos cannot be read (1 accepts any number)."),
    rescore: Path = typer.Option(None, "--rescore", help="Re-score a finished run's folder (with --average)."),
    as_json: bool = typer.Option(False, "--json", help="Print the record as JSON on stdout, nothing else."),
    plugin: list[str] = PLUGIN,
) -> None:
    """Measure top-1, top-5 and mean class accuracy with a paper's test views."""
    use_plugins(plugin)
    from vbench.errors import VbenchError
    from vbench.evaluation.engine import EvalSettings, evaluate
    from vbench.evaluation.engine import rescore as rescore_run

    main_rank = os.environ.get("RANK", "0") == "0"
    if rescore is not None and rescore.suffix == ".npz":
        from vbench.evaluation.reid_eval import rescore_reid

        record = rescore_reid(rescore, protocol or "official", distance, trial, out_dir)
    elif rescore is not None:
        record = rescore_run(rescore, average or "softmax", out_dir)
    else:
        if not weights and (not dataset or not model):
            raise VbenchError("give --dataset NAME and -m MODEL, or --weights NAME (see vbench eval --help)")
        settings = EvalSettings(dataset=dataset, model=model, root=root, split=split, subset=subset,
                                checkpoint=checkpoint, non_strict=non_strict, trusted=trusted, depth=depth,
                                protocol=protocol, frames=frames, clips=clips, crops=crops, short_side=scale_size,
                                crop_size=size, sampling=sampling, average=average, batch_size=batch_size,
                                workers=workers, prefetch=prefetch, device=device, precision=precision, channels_last=channels_last,
                                decoder=decoder, limit=limit, out=str(out_dir), resume=resume,
                                max_unreadable=max_unreadable,
                                dataset_options=parse_options(option), distance=distance, test_sampling=test_sampling,
                                seq_len=seq_len, trial=trial, weights=weights)
        with LazyProgress(TextColumn("eval"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[speed]}"),
                          TimeElapsedColumn(), transient=as_json, disable=not main_rank) as progress:

            def on_progress(done: int, total: int, views_per_s: float) -> None:
                progress.update(completed=done, total=total, speed=f"{views_per_s:.1f} clips/s")

            def on_note(text: str) -> None:
                progress.print(f"[yellow]note:[/] {text}")

            record = evaluate(settings, on_progress=on_progress, on_note=on_note)
    if record is None:  # not rank 0
        return
    if as_json:
        print(json.dumps(record, indent=1))
        return
    if "map" in record:
        _print_reid(record)
        return
    _print_accuracy(record)
    for example in record.get("skipped_examples") or []:
        err.print(f"[yellow]skipped[/] {example}", highlight=False)
    if record.get("skipped"):
        err.print(f"{record['skipped']} of {record['skipped'] + record['videos']} videos unreadable (limit "
                  f"--max-unreadable {record.get('max_unreadable')}): all listed in "
                  f"{out_dir}/eval/{record['scores_id']}/skipped.json", highlight=False)
    err.print(f"record written to {out_dir}/eval.json; per-video scores in {out_dir}/eval/{record['scores_id']}/")


def _print_accuracy(record: dict) -> None:
    """The accuracy table; under it, for random weights, the line saying it is not the model's accuracy."""
    from vbench.evaluation.engine import RANDOM_NOTE
    from vbench.evaluation.records import weights_cell

    table = Table(title=f"vbench eval: {record['model']} on {record['dataset']}", title_justify="left")
    published = "weights_name" in record
    columns = ["Split", "Views", "Fusion", "Top-1", *(["Published", "Diff"] if published else []), "Top-5",
               "Mean class", "Videos", "Skipped", "Clips/s", "Weights"]
    for column in columns:
        table.add_column(column)
    split, random = record.get("split"), record.get("weights") == "random"
    expected = [_pct(record.get("expected_top1")), _signed(record.get("top1_diff"))] if published else []
    table.add_row("-" if split is None else str(split), f"{record['views']} ({record['frames']} frames, "
                  f"{record['size']})", record["fusion"], _pct(record["top1"]), *expected, _pct(record["top5"]),
                  _pct(record["mean_class"]), str(record["videos"]), str(record["skipped"]),
                  str(record.get("clips_per_s")),
                  weights_cell(record) if random else record.get("weights_name")
                  or Path(record.get("checkpoint") or "-").name)
    out.print(table)
    if published:
        out.print(f"published top-1: {record.get('expected_source')}"
                  + (f" ({record['expected_note']})" if record.get("expected_note") else ""), highlight=False)
    if random:
        out.print(RANDOM_NOTE.format(seed=record.get("weights_seed")), highlight=False)


def _print_reid(record: dict) -> None:
    table = Table(title=f"vbench eval: {record['model']} on {record['dataset']} ({record['protocol']} protocol, "
                        f"{record['distance']})", title_justify="left")
    for column in ("mAP", "Rank-1", "Rank-5", "Rank-10", "Rank-20", "Valid queries", "Gallery", "Sampling"):
        table.add_column(column)
    table.add_row(_pct(record["map"]), _pct(record["rank1"]), _pct(record["rank5"]), _pct(record["rank10"]),
                  _pct(record["rank20"]), f"{record['valid_queries']}/{record['num_queries']}",
                  str(record["gallery_size"]), f"{record['sampling']} x{record['seq_len']}")
    out.print(table)
    if record.get("map_interpolated") is not None:
        err.print(f"interpolated mAP (the dataset's MATLAB code): {record['map_interpolated']:.2f}")
    if record.get("weights") == "random":
        from vbench.evaluation.engine import RANDOM_NOTE

        out.print(RANDOM_NOTE.format(seed=record.get("weights_seed")), highlight=False)
    err.print(f"record written to eval.json; features in {record['features']} (re-score with --rescore)")


def _signed(value) -> str:
    return "-" if value is None else f"{value:+.2f}"


def _pct(value) -> str:
    return "-" if value is None else f"{value:.2f}"
