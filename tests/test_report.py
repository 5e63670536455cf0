import json
import shutil
import subprocess

import matplotlib.pyplot as plt
import pytest
from typer.testing import CliRunner

from vbench.cli import app
from vbench.reporting import plots
from vbench.reporting.comparison import audit_record, build_comparison, dataset_code, sort_rows
from vbench.reporting.formats import to_latex, to_markdown
from vbench.reporting.report import write_plots, write_report


def profile_record(model, frames=8, size="224x224", batch=1, params=24.3276, gflops=32.9, latency=500.0,
                   throughput=2.0, by_op=None, classes=400, method=None):
    return {"model": model, "method": method or model.split("_")[0].upper(), "frames": frames, "size": size,
            "batch_size": batch, "num_classes": classes, "params_m": params, "gflops": gflops,
            "gflops_without_bn": gflops - 0.2, "gflops_by_op": by_op or {"conv": gflops - 0.21, "linear": 0.0066},
            "latency_ms": latency, "latency_iqr_ms": 5.0, "throughput": throughput, "status": "ok",
            "device": "cpu", "device_name": "Test CPU (2 threads)", "depth": 50, "reconstruction": False}


def eval_record(model, dataset="sthv1", top1=40.0, top5=70.0, frames=8):
    return {"run_id": f"{model}-{dataset}", "model": model, "method": model.split("_")[0].upper(),
            "dataset": dataset, "frames": frames, "size": "224x224", "views": "1x1", "top1": top1, "top5": top5,
            "videos": 100, "status": "ok", "protocol": "tsm-sthv1"}


@pytest.fixture
def results(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    profiles = [profile_record("tsm_r50"), profile_record("tsn_r50", latency=450.0),
                profile_record("tsm_r50", batch=8, latency=3000.0, throughput=2.67),
                profile_record("tsm_r50", frames=16, gflops=65.8, latency=1000.0, throughput=1.0,
                               by_op={"conv": 65.4, "linear": 0.0131}),
                profile_record("tsn_r50", params=25.0)]  # a different head: audited against 24.3 -> flagged
    profiles[-1]["size"] = "224x224"
    profiles[-1]["frames"] = 4  # a setting the paper does not report: no audit line
    (folder / "profile.json").write_text(json.dumps(profiles))
    (folder / "eval.json").write_text(json.dumps([eval_record("tsm_r50", top1=44.0)]))
    return folder


def test_comparison_without_dataset_has_one_row_per_setting_with_audit(results):
    profile = json.loads((results / "profile.json").read_text())
    rows = build_comparison(profile)
    by_key = {(r.model, r.frames): r for r in rows}
    assert set(by_key) == {("tsm_r50", 8), ("tsn_r50", 8), ("tsm_r50", 16), ("tsn_r50", 4)}
    tsm8 = by_key[("tsm_r50", 8)]
    assert tsm8.latency_ms == 500.0 and tsm8.throughput == 2.67 and tsm8.batch_size == 8  # sweep's best
    assert tsm8.params_source == "measured" and not tsm8.flagged
    assert any(line.startswith("params +0.1% vs 24.3") for line in tsm8.audit)
    assert by_key[("tsn_r50", 4)].audit == []


def test_audit_flags_a_figure_off_by_more_than_the_tolerance():
    lines, flagged = audit_record(profile_record("tsm_r50", params=25.0))
    assert flagged and any("params +2.9% vs 24.3 (check) OFF" in line for line in lines)
    lines, flagged = audit_record(profile_record("tsm_r50", frames=16, by_op={"conv": 65.4, "linear": 0.01}))
    assert not flagged and any("GFLOPs +0.6% vs 65" in line for line in lines)


def test_dataset_rows_mark_measured_and_reported_accuracy(results):
    profile = json.loads((results / "profile.json").read_text())
    evals = json.loads((results / "eval.json").read_text())
    rows = build_comparison(profile, evals, dataset="sthv1")
    measured = [r for r in rows if r.accuracy_source == "measured"]
    assert len(measured) == 1 and measured[0].top1 == 44.0 and measured[0].gflops_source == "measured"
    reported_tsn = next(r for r in rows if r.accuracy_source == "reported" and r.model == "tsn_r50")
    assert reported_tsn.top1 == 19.7 and reported_tsn.latency_ms == 450.0  # paper accuracy, vbench latency
    assert dataset_code("kinetics400") == "K400" and dataset_code("K400") == "K400"
    markdown = to_markdown(sort_rows(rows, "top1"), "SSv1")
    assert "| TSM | tsm_r50 | - | 8 | 32.9 x 1 | 24.3 | 500.0 | 2.7 (b8) | 44.0 | 70.0 |" in markdown
    assert "19.7*" in markdown and "reported by the papers" in markdown


def test_train_runs_of_one_model_are_told_apart_by_dreal_and_seed(results):
    profile = json.loads((results / "profile.json").read_text())
    runs = [eval_record("tsm_r50", top1=40.0 + seed) | {"recipe": {"lr": 0.005}, "seed": seed, "dreal": dreal}
            for seed in (0, 1) for dreal in (False, True)]
    rows = build_comparison(profile, runs + [eval_record("tsm_r50", top1=44.0)], dataset="sthv1")
    labels = sorted(r.method for r in rows if r.accuracy_source == "measured")
    assert labels == ["TSM", "TSM + DREAL, seed 0", "TSM + DREAL, seed 1", "TSM, seed 0", "TSM, seed 1"]


EXPECTED_LATEX_ROW = (r"TSM & tsm\_r50 & - & 8 & 32.9 $\times$ 1 & 24.3 & 500.0 & 2.7 (b8) & 44.0 & 70.0 \\")


def test_latex_is_a_booktabs_table_that_compiles(results, tmp_path):
    rows, paths = write_report(results, dataset="sthv1", models=["tsm_r50"], formats=("latex",),
                               include_reported=False)
    text = paths[0].read_text()
    assert paths[0].name == "report-SSv1.tex"
    assert r"\toprule" in text and r"\midrule" in text and r"\bottomrule" in text
    assert EXPECTED_LATEX_ROW in text.splitlines()
    if shutil.which("pdflatex"):
        document = tmp_path / "doc.tex"
        document.write_text("\\documentclass{article}\\usepackage{booktabs}\\begin{document}\n" + text +
                            "\\end{document}\n")
        done = subprocess.run(["pdflatex", "-interaction=nonstopmode", document.name], cwd=tmp_path,
                              capture_output=True)
        assert done.returncode == 0, done.stdout[-2000:]


def test_report_writes_every_format(results, tmp_path):
    rows, paths = write_report(results, tmp_path / "out", dataset="SSv1")
    assert sorted(p.suffix for p in paths) == [".csv", ".html", ".md", ".tex"]
    html = (tmp_path / "out" / "report-SSv1.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<table>" in html and "http" not in html  # self-contained
    csv = (tmp_path / "out" / "report-SSv1.csv").read_text().splitlines()
    assert csv[0].startswith("method,model,") and len(csv) == len(rows) + 1


def test_plot_points_are_the_records_and_labels_do_not_overlap(results):
    profile = json.loads((results / "profile.json").read_text())
    evals = json.loads((results / "eval.json").read_text())
    rows = build_comparison(profile, evals, dataset="sthv1")
    figure = plots.accuracy_vs_gflops(rows, "SSv1", highlight=["tsm_r50"])
    axes = figure.axes[0]
    points = {}
    for collection in axes.collections:
        (x, y), = collection.get_offsets()
        points[collection.get_gid()] = (float(x), float(y))
    assert points["tsm_r50|measured"] == (32.9, 44.0)
    assert points["tsn_r50|reported"] == (32.9, 19.7)
    measured = next(c for c in axes.collections if c.get_gid() == "tsm_r50|measured")
    reported = next(c for c in axes.collections if c.get_gid() == "tsn_r50|reported")
    assert measured.get_facecolors()[0][3] > 0 and len(reported.get_facecolors()) == 0  # hollow = reported
    assert not plots.labels_overlap(figure, list(axes.texts))
    renderer = figure.canvas.get_renderer()
    frame = axes.get_window_extent(renderer)
    for text in axes.texts:  # inside the axes: never over the title or past the ticks
        box = plots.label_box(text, renderer)
        assert frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1), text.get_text()
    assert axes.get_xscale() == "log"
    plt.close(figure)


def test_plot_files_and_batch_sweep(results, tmp_path):
    paths = write_plots(results, tmp_path, dataset="sthv1", image_formats=("png", "svg"))
    names = sorted(p.name for p in paths)
    assert "accuracy_vs_gflops-SSv1.png" in names and "throughput_vs_batch.svg" in names
    assert all(p.stat().st_size > 1000 for p in paths)


def test_report_and_plot_commands(results, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["report", "--results", str(results), "--dataset", "sthv1", "--out", str(tmp_path)])
    assert result.exit_code == 0 and (tmp_path / "report-SSv1.md").exists()
    result = runner.invoke(app, ["report", "--results", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "no results folder" in result.output
    result = runner.invoke(app, ["plot", "--results", str(results), "--kind", "pie"])
    assert result.exit_code == 2 and "unknown plot" in result.output


def test_labels_that_would_read_alike_are_told_apart():
    from vbench.reporting.comparison import ComparisonRow

    rows = [ComparisonRow(method="EAN", model="ean_r50", backbone="ResNet-50", pretrain="ImageNet", views="1x1"),
            ComparisonRow(method="EAN", model="ean_r50", backbone="ResNet-50", pretrain="ImageNet", views="1x1"),
            ComparisonRow(method="EAN", model="ean_r50", frames=40, views="1x1")]
    assert plots._labels(rows) == ["EAN (ResNet-50, ImageNet) #1", "EAN (ResNet-50, ImageNet) #2", "EAN 40f"]
