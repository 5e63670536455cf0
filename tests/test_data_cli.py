import json

import pytest
from typer.testing import CliRunner
from videofiles import write_video

from vbench.cli import app

runner = CliRunner()


@pytest.mark.parametrize("command", [["data"], ["data", "check"], ["data", "list"]])
def test_data_commands_say_what_they_do_and_show_an_example(command):
    result = runner.invoke(app, command + ["--help"])
    assert result.exit_code == 0 and "Example" in result.output and f"vbench {' '.join(command)}" in result.output


def test_check_json_prints_only_the_report():
    result = runner.invoke(app, ["data", "check", "--dataset", "synthetic", "--decode", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"dataset", "split", "subset", "classes", "videos", "missing", "unreadable"} <= set(report)
    assert (report["dataset"], report["classes"], report["videos"], report["unreadable"]) == ("synthetic", 5, 40, 0)


def test_check_reports_missing_and_unreadable_files(tmp_path):
    write_video(tmp_path / "a.mp4", 8)
    (tmp_path / "b.mp4").write_bytes(b"junk" * 10)
    (tmp_path / "val.txt").write_text("a.mp4 0\nb.mp4 1\nc.mp4 1\n")
    args = ["data", "check", "-d", "list", "--root", str(tmp_path), "-o", "test_list=val.txt", "--decode"]
    result = runner.invoke(app, args + ["--json"])
    report = json.loads(result.stdout)
    assert result.exit_code == 1 and (report["videos"], report["missing"], report["unreadable"]) == (3, 1, 1)
    assert [p["path"].rsplit("/", 1)[-1] for p in report["problems"]] == ["c.mp4", "b.mp4"]
    text = runner.invoke(app, args)
    assert "missing files" in text.output and "b.mp4" in text.output


@pytest.mark.parametrize("args, message", [
    (["--dataset", "ucf101"], "ucf101 needs --root DIR; expected layout: ROOT/UCF-101/"),
    (["--dataset", "ucf-101", "--root", "."], "unknown dataset 'ucf-101'. Did you mean: ucf101"),
    (["--dataset", "hmdb51", "--root", "."], "no split folder testTrainMulti_7030_splits"),
    (["--dataset", "synthetic", "-o", "size"], "bad option 'size': write KEY=VALUE"),
    (["--dataset", "synthetic", "--split", "2"], "synthetic has one official split"),
    (["--dataset", "synthetic", "--decoder", "ffcv"], "unknown decoder 'ffcv'"),
])
def test_mistakes_give_one_clear_line(args, message):
    result = runner.invoke(app, ["data", "check"] + args)
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
