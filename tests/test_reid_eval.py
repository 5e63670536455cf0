"""vbench eval and vbench data check on a tiny MARS tree, under each gallery protocol, and under torchrun."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.test_reid_datasets import SIZE, MeanColour, write_mars
from vbench.cli import app
from vbench.models import registry

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def mean_colour(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    def mean_colour_net(num_classes=625, num_frames=2):
        return MeanColour()

    registry.register_model(method="Mean colour", paper="-", year=2000, frames=2, size=SIZE,
                            task="person re-identification", num_classes=625)(mean_colour_net)
    return "mean_colour_net"


def run(*args):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def test_eval_on_mars_records_the_protocol_and_rescores_without_the_model(tmp_path, mean_colour):
    root = write_mars(tmp_path / "MARS")
    out = tmp_path / "results"
    official = json.loads(run("eval", "--dataset", "mars", "--root", str(root), "-m", mean_colour, "--seq-len", "2",
                              "--workers", "0", "--out", str(out), "--json").stdout)
    assert (official["protocol"], official["distance"], official["sampling"]) == ("official", "euclidean", "dense")
    assert official["map"] == pytest.approx(100 * (1 + 0.5 + 1 + 1) / 4)  # the hand-worked case of test_reid_datasets
    assert official["rank1"] == pytest.approx(75.0) and official["valid_queries"] == 4
    assert official["gallery_size"] == 9 and official["map_interpolated"] == pytest.approx(81.25)
    removed = json.loads(run("eval", "--rescore", official["features"], "--protocol", "query-removed", "--out",
                             str(out), "--json").stdout)
    assert (removed["protocol"], removed["valid_queries"], removed["skipped_queries"], removed["gallery_size"]) == \
           ("query-removed", 2, 2, 4)
    included = json.loads(run("eval", "--rescore", official["features"], "--protocol", "query-included",
                              "--distance", "cosine", "--out", str(out), "--json").stdout)
    assert included["gallery_size"] == 8 and included["distance"] == "cosine"
    records = json.loads((out / "eval.json").read_text())
    assert sorted(r["protocol"] for r in records) == ["official", "query-included", "query-removed"]


def test_data_check_counts_a_mars_subset(tmp_path):
    root = write_mars(tmp_path / "MARS")
    report = json.loads(run("data", "check", "--dataset", "mars", "--root", str(root), "--subset", "gallery",
                            "--protocol", "query-removed", "--json").stdout)
    assert report["tracklets"] == report["videos"] == 4 and report["protocol"] == "query-removed"
    assert report["valid_queries"] == 2 and report["missing"] == 0


def test_bad_reid_input_gives_one_line(tmp_path, mean_colour):
    root = write_mars(tmp_path / "MARS")
    for args, message in ((["--protocol", "everything"], "unknown re-id protocol"),
                          (["--distance", "manhattan"], "unknown distance"),
                          (["--root", str(tmp_path / "nowhere")], "nowhere")):
        result = CliRunner().invoke(app, ["eval", "--dataset", "mars", "--root", str(root), "-m", mean_colour,
                                          "--out", str(tmp_path), *args])
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_reid_features_under_two_gloo_processes_equal_one(tmp_path):
    """Every tracklet once across processes: rank-0's gathered features score as one process's do.

    The subprocesses cannot see a test-only model, so a registered one runs: torchvision's
    r3d_18 on the crops resized to its 112x112 input, two frames a chunk.
    """
    root = write_mars(tmp_path / "MARS")
    args = ["eval", "--dataset", "mars", "--root", str(root), "-m", "tv_r3d_18", "--seq-len", "2", "--workers", "0",
            "--json"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    one = subprocess.run([sys.executable, "-m", "vbench", *args, "--out", str(tmp_path / "one")], env=env,
                         capture_output=True, text=True, timeout=900)
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port",
                          "29541", "-m", "vbench", *args, "--out", str(tmp_path / "two")], env=env,
                         capture_output=True, text=True, timeout=900)
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = json.loads(one.stdout), json.loads(two.stdout)
    assert b["world_size"] == 2 and a["world_size"] == 1
    for key in ("map", "rank1", "rank5", "valid_queries", "gallery_size"):
        assert a[key] == pytest.approx(b[key], abs=1e-4), key
