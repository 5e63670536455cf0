import json

import pytest
from typer.testing import CliRunner

import vbench
from vbench.cli import app

runner = CliRunner()
COMMANDS = [c.name for c in app.registered_commands]


def invoke(*args):
    return runner.invoke(app, list(args))


def test_version_and_help():
    result = invoke("--version")
    assert result.exit_code == 0 and result.output.strip() == f"vbench {vbench.__version__}"
    result = invoke("--help")
    assert result.exit_code == 0 and all(name in result.output for name in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_says_what_it_does_and_shows_an_example(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output and f"vbench {command}" in result.output


def test_models_lists_the_zoo_as_json():
    result = invoke("models", "--json")
    infos = json.loads(result.output)
    assert {"tsn_r50", "tsm_r50"} <= {i["name"] for i in infos}
    assert all(i["paper"] and i["reported_key"] for i in infos)


def test_profile_json_prints_only_the_records(tmp_path):
    result = runner.invoke(app, ["profile", "-m", "tsm_r50", "--depth", "18", "--frames", "2", "--size", "32",
                                 "--metrics", "params,flops", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert records[0]["model"] == "tsm_r18" and records[0]["gflops"] > 0
    assert (tmp_path / "profile.json").exists() and (tmp_path / "profile.md").exists()


@pytest.mark.parametrize("args, message", [
    (["profile", "-m", "tsm_r5O"], "unknown model 'tsm_r5O'. Did you mean: tsm_r50"),
    (["profile", "-m", "tsm_r50", "--size", "big"], "bad size 'big'"),
    (["profile", "-m", "tsm_r50", "--size", "0"], "bad size '0'"),
    (["profile"], "-m NAME"),
    (["profile", "-m", "tsm_r50", "--metrics", "speed"], "unknown metric(s) speed"),
    (["profile", "-m", "tsm_r50", "--depth", "42"], "not 42"),
    (["profile", "-m", "tsm_r50", "--precision", "fp8"], "unknown precision 'fp8'"),
])
def test_bad_input_gives_one_clear_line_and_no_traceback(args, message, tmp_path):
    result = runner.invoke(app, args + ["--out", str(tmp_path)])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) <= 2


def test_cuda_absent_is_one_clear_line(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = invoke("profile", "-m", "tsm_r18", "--device", "cuda", "--out", str(tmp_path))
    assert result.exit_code == 2 and "no GPU is available" in result.output and "Traceback" not in result.output
