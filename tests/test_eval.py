"""vbench eval on tiny trees of real video files: exact accuracy, views, checkpoints, resume, torchrun."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import vbench
from vbench.cli import app
from vbench.evaluation.engine import EvalSettings, evaluate, rescore
from vbench.errors import VbenchError
from vbench.evaluation.scores import ScoreStore
from vbench.models import registry

ROOT = Path(__file__).resolve().parents[1]
GREY_STEP = 40
# (class shown by the video's grey level, label in the list file)
VIDEOS = [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (0, 5), (3, 0), (2, 3), (5, 4), (1, 1), (4, 4)]


def write_grey_video(path: Path, level: int, frames: int = 8) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.bit_rate = 2_000_000
        image = np.full((48, 64, 3), level, dtype=np.uint8)
        for _ in range(frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("greys")
    lines = []
    for i, (shown, label) in enumerate(VIDEOS):
        write_grey_video(root / f"v{i:02d}.avi", shown * GREY_STEP)
        lines.append(f"v{i:02d}.avi {label}")
    (root / "broken.avi").write_bytes(b"RIFF not really a video")
    lines.append("broken.avi 2")
    (root / "test.txt").write_text("\n".join(lines) + "\n")
    (root / "classes.txt").write_text("\n".join(f"c{k}" for k in range(6)) + "\n")
    return root


class GreyOracle(torch.nn.Module):
    """Reads the grey level of the clip and scores class j by -|j - level/40|."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.classes = torch.arange(num_classes, dtype=torch.float32)

    def forward(self, x):
        level = ((x[:, 0] * 0.229 + 0.485) * 255).mean(dim=(1, 2, 3))
        shown = torch.round(level / GREY_STEP)
        return -(self.classes.view(1, -1) - shown.view(-1, 1)).abs()


@pytest.fixture
def oracle(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    def grey_oracle(num_classes=6, num_frames=4):
        return GreyOracle(num_classes)

    registry.register_model(method="Oracle", paper="-", year=2000, frames=4)(grey_oracle)
    return "grey_oracle"


def settings(tree, model, tmp_path, **changes):
    """The tree's 13 videos; its one broken file (7.7%) is accepted unless a test lowers max_unreadable."""
    base = dict(dataset="list", model=model, root=str(tree), frames=4, short_side=32, crop_size=32, workers=0,
                out=str(tmp_path / "results"), max_unreadable=0.1,
                dataset_options={"test_list": "test.txt", "classes_file": "classes.txt"})
    return EvalSettings(**{**base, **changes})


def test_accuracy_from_known_scores_is_exact_and_the_corrupt_video_is_skipped(tree, oracle, tmp_path):
    record = evaluate(settings(tree, oracle, tmp_path))
    assert record["videos"] == 12 and record["skipped"] == 1
    assert record["skipped_examples"][0].startswith("broken")
    assert record["top1"] == pytest.approx(100 * 8 / 12, abs=1e-3)
    assert record["top5"] == pytest.approx(100 * 10 / 12, abs=1e-3)
    assert record["mean_class"] == pytest.approx((50 + 100 + 100 + 50 + 200 / 3 + 50) / 6, abs=1e-3)
    saved = json.loads((tmp_path / "results" / "eval.json").read_text())
    assert saved == [record]
    assert record["weights"] == "random" and record["weights_seed"] == 0 and record["max_unreadable"] == 0.1
    folder = tmp_path / "results" / "eval" / record["scores_id"]
    assert json.loads((folder / "skipped.json").read_text()) == [
        {"id": "broken.avi", "error": record["skipped_examples"][0].split(": ", 1)[1]}]
    per_class = (folder / "per_class-softmax.csv").read_text().splitlines()
    assert per_class[0] == "class,index,videos,top1" and per_class[1].startswith("c0,0,2,50.0")
    confusion = (folder / "confusion-softmax.csv").read_text().splitlines()
    assert confusion[1] == "c0,1,0,0,1,0,0"  # label c0: one predicted c0, one predicted c3


def test_multi_view_scores_are_stored_and_fused(tree, oracle, tmp_path):
    record = evaluate(settings(tree, oracle, tmp_path, clips=2, crops=3))
    assert record["views"] == "2x3" and record["top1"] == pytest.approx(100 * 8 / 12, abs=1e-3)
    items = ScoreStore(tmp_path / "results" / "eval" / record["scores_id"]).load()
    scored = [i for i in items if i["scores"] is not None]
    assert all(i["scores"].shape == (6, 6) for i in scored)
    rescored = rescore(tmp_path / "results" / "eval" / record["scores_id"], "score", tmp_path / "results")
    assert rescored["fusion"] == "score" and rescored["top1"] == record["top1"]
    assert len(json.loads((tmp_path / "results" / "eval.json").read_text())) == 2


def test_checkpoint_round_trip_gives_the_model_scores(tree, tmp_path):
    model = vbench.create_model("tsn_r18", num_classes=6, num_frames=4).eval()
    torch.nn.init.normal_(model.head.fc.weight)
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": model.state_dict()}, path)
    record = evaluate(settings(tree, "tsn_r18", tmp_path, checkpoint=str(path)))
    assert record["checkpoint_sha256"] and record["videos"] == 12
    assert record["weights"] == "checkpoint" and record["weights_seed"] is None
    assert not any("random weights" in note for note in record["notes"])
    items = {i["index"]: i for i in ScoreStore(tmp_path / "results" / "eval" / record["scores_id"]).load()}
    from vbench.data import build_dataset

    dataset = build_dataset("list", str(tree), views=vbench.data.ViewSpec(frames=4, short_side=32, crop_size=32),
                            test_list="test.txt", classes_file="classes.txt")
    with torch.no_grad():
        direct = model(dataset[3]["video"])
    assert torch.allclose(items[3]["scores"], direct, atol=1e-5)


def test_interrupted_run_resumes_to_the_same_record(tree, oracle, tmp_path):
    complete = evaluate(settings(tree, oracle, tmp_path / "a", chunk=2))
    calls = []

    def interrupt(done, total, speed):
        calls.append(done)
        if done >= 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        evaluate(settings(tree, oracle, tmp_path / "b", chunk=2), on_progress=interrupt)
    store = ScoreStore(tmp_path / "b" / "results" / "eval" / complete["scores_id"])
    kept = len(store.load())
    assert 0 < kept < 13
    resumed_from = []
    resumed = evaluate(settings(tree, oracle, tmp_path / "b", chunk=2, resume=True),
                       on_progress=lambda done, total, speed: resumed_from.append(done))
    assert resumed_from[0] > kept  # finished videos were not scored again
    assert resumed["time"] == store.read_run()["provenance"]["time"] and len(resumed["resumed_at"]) == 1
    volatile = {"time_s", "clips_per_s", "time", "git_rev", "dirty", "loadavg_1m", "resumed_at"}
    assert {k: v for k, v in resumed.items() if k not in volatile} == \
           {k: v for k, v in complete.items() if k not in volatile}


def test_two_gloo_processes_give_the_single_process_numbers(tree, tmp_path):
    model = vbench.create_model("tsn_r18", num_classes=6, num_frames=4)
    torch.nn.init.normal_(model.head.fc.weight)
    torch.save(model.state_dict(), tmp_path / "ckpt.pth")
    args = ["eval", "--dataset", "list", "-m", "tsn_r18", "--root", str(tree), "--frames", "4", "--scale-size",
            "32", "--size", "32", "--checkpoint", str(tmp_path / "ckpt.pth"), "--workers", "0", "--max-unreadable", "1",
            "--option", "test_list=test.txt", "--option", "classes_file=classes.txt", "--json"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    single = subprocess.run([sys.executable, "-m", "vbench", *args, "--out", str(tmp_path / "one")], env=env,
                            capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stderr[-2000:]
    double = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port",
                             "29517", "-m", "vbench", *args, "--out", str(tmp_path / "two")], env=env,
                            capture_output=True, text=True, timeout=600)
    assert double.returncode == 0, double.stderr[-3000:]
    one, two = json.loads(single.stdout), json.loads(double.stdout)
    assert two["world_size"] == 2 and one["world_size"] == 1
    for key in ("top1", "top5", "mean_class", "videos", "skipped"):
        assert one[key] == two[key], key
    a = {i["index"]: i for i in ScoreStore(tmp_path / "one" / "eval" / one["scores_id"]).load()}
    b = {i["index"]: i for i in ScoreStore(tmp_path / "two" / "eval" / two["scores_id"]).load()}
    assert sorted(a) == sorted(b) == list(range(13))  # every video once, none twice
    for index, item in a.items():
        if item["scores"] is not None:
            assert torch.allclose(item["scores"], b[index]["scores"], atol=1e-5)


LIST = ["--dataset", "list", "--option", "test_list=test.txt"]


@pytest.mark.parametrize("args, message", [
    (LIST + ["--checkpoint", "nowhere.pth"], "checkpoint not found"),
    (["--dataset", "ucf101"], "UCF-101"),
    (["--dataset", "ucf101", "--split", "4"], "split"),
    (LIST + ["--crops", "4"], "crops must be one of"),
    (LIST + ["--average", "max"], "unknown --average"),
    (LIST + ["--model", "tsm_r5O"], "unknown model 'tsm_r5O'"),
])
def test_bad_input_gives_one_line(tree, tmp_path, args, message):
    base = ["eval", "-m", "tsn_r18", "--root", str(tree), "--frames", "4", "--size", "32", "--scale-size", "32",
            "--out", str(tmp_path)]
    result = CliRunner().invoke(app, base + args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_checkpoint_with_another_number_of_classes_is_one_clear_error(tree, tmp_path):
    model = vbench.create_model("tsn_r18", num_classes=400, num_frames=4)
    torch.save(model.state_dict(), tmp_path / "k400.pth")
    result = CliRunner().invoke(app, ["eval", "--dataset", "list", "-m", "tsn_r18", "--root", str(tree), "--frames",
                                      "4", "--size", "32", "--scale-size", "32", "--option", "test_list=test.txt",
                                      "--option", "classes_file=classes.txt", "--checkpoint",
                                      str(tmp_path / "k400.pth"), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "has 400 classes but list has 6" in result.output


def test_synthetic_eval_needs_no_data(tmp_path):
    result = CliRunner().invoke(app, ["eval", "--dataset", "synthetic", "-m", "tsn_r18", "--frames", "4", "--size",
                                      "32", "--scale-size", "32", "--limit", "6", "--workers", "0", "--out",
                                      str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["videos"] == 6 and record["dataset"] == "synthetic" and 0 <= record["top1"] <= 100


# ---------------------------------------------------------------- failures are not skips
def broken_transform(*args, **kwargs):
    raise ValueError("crop of 40 pixels in a 32-pixel frame")


TRANSFORM_BUG = ("failed outside decoding (ValueError: crop of 40 pixels in a 32-pixel frame): this is a bug in "
                 "sampling or transforms, not a corrupt file; rerun with --debug for the traceback")


@pytest.mark.parametrize("workers", [0, 2])
def test_a_transform_bug_stops_the_run_naming_the_video(tree, oracle, tmp_path, monkeypatch, workers):
    from vbench.data import transforms
    from vbench.data.dataset import VideoFailure

    monkeypatch.setattr(transforms, "views_for_test", broken_transform)
    with pytest.raises(VideoFailure) as info:
        evaluate(settings(tree, oracle, tmp_path, workers=workers, max_unreadable=1))
    assert str(info.value) == f"video 'v00.avi' ({tree / 'v00.avi'}) {TRANSFORM_BUG}"
    assert (info.value.detail is not None) == (workers > 0)  # a worker's traceback, kept for --debug
    assert not (tmp_path / "results" / "eval.json").exists()


def test_the_cli_prints_a_transform_bug_in_one_line_and_its_traceback_under_debug(tree, oracle, tmp_path,
                                                                                  monkeypatch):
    from vbench.data import transforms
    from vbench.data.dataset import VideoFailure

    monkeypatch.setattr(transforms, "views_for_test", broken_transform)
    args = ["eval", "-m", oracle, *LIST, "--option", "classes_file=classes.txt", "--root", str(tree), "--frames",
            "4", "--size", "32", "--scale-size", "32", "--workers", "2", "--out", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.strip().splitlines() == [f"error: video 'v00.avi' ({tree / 'v00.avi'}) {TRANSFORM_BUG}"]
    debug = CliRunner().invoke(app, ["--debug", *args])
    assert isinstance(debug.exception, VideoFailure) and debug.exit_code != 0
    assert "Traceback" in debug.output and "in broken_transform" in debug.output  # the worker's frames


def test_over_the_unreadable_limit_no_accuracy_is_recorded_and_all_are_listed(tree, oracle, tmp_path):
    from vbench.data.unreadable import TooManyUnreadable

    with pytest.raises(TooManyUnreadable) as info:
        evaluate(settings(tree, oracle, tmp_path, max_unreadable=0.07))  # 1 of 13 is 7.7%
    message = str(info.value)
    listing = next((tmp_path / "results" / "eval").glob("*/skipped.json"))
    assert message.startswith("1 of 13 videos could not be read (7.7%), more than --max-unreadable 0.07 (7.0%)")
    assert f"the full list is in {listing}; first: broken.avi (cannot open: " in message and "\n" not in message
    assert message.endswith("or accept them with --max-unreadable 0.077")
    assert [s["id"] for s in json.loads(listing.read_text())] == ["broken.avi"]
    assert not (tmp_path / "results" / "eval.json").exists()
    assert ScoreStore(listing.parent).parts()  # the scores stay for --resume
    record = evaluate(settings(tree, oracle, tmp_path, max_unreadable=1 / 13, resume=True))
    assert record["skipped"] == 1 and record["videos"] == 12 and record["top1"] == pytest.approx(100 * 8 / 12, abs=1e-3)


def test_the_unreadable_limit_must_be_a_fraction(tree, oracle, tmp_path):
    with pytest.raises(vbench.errors.VbenchError, match="--max-unreadable must be a fraction between 0 and 1"):
        evaluate(settings(tree, oracle, tmp_path, max_unreadable=5))


def test_the_cli_fails_past_the_unreadable_limit_in_one_line(tree, tmp_path):
    args = [sys.executable, "-m", "vbench", "eval", "-m", "tsn_r18", *LIST, "--option", "classes_file=classes.txt",
            "--root", str(tree), "--frames", "4", "--size", "32", "--scale-size", "32", "--workers", "0",
            "--out", str(tmp_path)]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    failed = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert failed.returncode == 2 and failed.stdout == "" and "Traceback" not in failed.stderr
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "1 of 13 videos could not be read" in errors[0] and "first: broken.avi (" in errors[0]
    assert not (tmp_path / "eval.json").exists()
    passed = subprocess.run(args + ["--max-unreadable", "1", "--resume"], env=env, capture_output=True, text=True,
                            timeout=600)
    assert passed.returncode == 0, passed.stderr[-2000:]
    assert "skipped broken.avi: cannot open" in passed.stderr
    assert "1 of 13 videos unreadable (limit --max-unreadable 1.0): all listed in" in passed.stderr
    assert json.loads((tmp_path / "eval.json").read_text())[0]["skipped"] == 1


def test_random_weights_are_named_in_the_record_the_tables_and_the_scores_id(tree, oracle, tmp_path):
    result = CliRunner().invoke(app, ["eval", "--dataset", "synthetic", "-m", "tsn_r18", "--frames", "4", "--size",
                                      "32", "--scale-size", "32", "--limit", "4", "--workers", "0", "--out",
                                      str(tmp_path)])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if "softmax" in line)
    assert row.split("│")[1].strip() == "-" and "None" not in row  # no split: '-'
    assert row.split("│")[-2].strip() == "random weights (seed 0)"
    assert ("random weights (seed 0): no checkpoint was loaded, so this figure is not the model's accuracy"
            in result.stdout)
    record = json.loads((tmp_path / "eval.json").read_text())[0]
    assert record["weights"] == "random" and record["weights_seed"] == 0 and record["split"] is None
    table = (tmp_path / "eval.md").read_text()
    assert "| tsn_r18 | synthetic | - | 4 | 1x1 |" in table and table.count("| random weights (seed 0) |") == 1
    assert "Rows with random weights: no checkpoint was loaded, so their figures are not the model's accuracy." \
           in table
    seeded = evaluate(settings(tree, oracle, tmp_path, weights_seed=3))
    plain = evaluate(settings(tree, oracle, tmp_path))
    assert seeded["weights_seed"] == 3 and seeded["scores_id"] != plain["scores_id"]


def test_score_store_fuses_once_with_the_last_score_of_each_video(tmp_path):
    store = ScoreStore(tmp_path / "run")
    first = torch.tensor([[2.0, 0.0], [0.0, 1.0]])  # (views, classes)
    store.write([{"index": 0, "id": "a", "label": 0, "scores": first, "error": None},
                 {"index": 1, "id": "b", "label": 1, "scores": None, "error": "unreadable"}])
    store.write([{"index": 0, "id": "a", "label": 0, "scores": torch.tensor([[0.0, 3.0], [0.0, 3.0]]),
                  "error": None},  # a resumed chunk scored video 0 again: this one counts
                 {"index": 2, "id": "c", "label": 1, "scores": torch.tensor([[0.0, 1.0], [0.0, 1.0]]),
                  "error": None}])
    fused = store.fuse("score", num_classes=2, expected=3)
    assert [item["id"] for item in fused.scored] == ["a", "c"] and [s["id"] for s in fused.skipped] == ["b"]
    assert fused.video_scores.tolist() == [[0.0, 3.0], [0.0, 1.0]]
    assert fused.result.top1 == 50.0
    with pytest.raises(VbenchError, match="1 videos of the split have no score"):
        store.fuse("softmax", expected=4)
    assert ScoreStore(tmp_path / "empty").fuse("softmax").result is None


@pytest.mark.parametrize("changes", [{"workers": -1}, {"workers": 2, "prefetch": 0}])
def test_loader_settings_out_of_range_are_one_clear_error(tree, oracle, tmp_path, changes):
    with pytest.raises(VbenchError, match="--workers must be at least 0 and --prefetch at least 1"):
        evaluate(settings(tree, oracle, tmp_path, **changes))
