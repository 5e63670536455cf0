import json
import shutil
import subprocess

import matplotlib.pyplot as plt
import pytest
from typer.testing import CliRunner

from vbench.cli import app
from vbench.reporting import plots
from vbench.reporting.comparison import audit_record, build_comparison, dataset_code, sort_rows
from vbench.reporting.formats import to_html, to_markdown
from vbench.reporting.report import write_plots, write_report


def profile_record(model, frames=8, size="224x224", batch=1, params=24.3276, gflops=32.9, latency=500.0,
                   throughput=2.0, by_op=None, classes=400, method=None):
    return {"model": model, "method": method or model.split("_")[0].upper(), "frames": frames, "size": size,
            "batch_size": batch, "num_classes": classes, "params_m": params, "gflops": gflops,
            "gflops_without_bn": gflops - 0.2, "gflops_by_op": by_op or {"conv": gflops - 0.21, "linear": 0.0066},
            "latency_ms": latency, "latency_iqr_ms": 5.0, "throughput": throughput, "status": "ok",
            "device": "cpu", "device_name": "Test CPU (2 threads)", "depth": 50, "reconstruction": False,
            "fingerprint": "test"}


def eval_record(model, dataset="sthv1", top1=40.0, top5=70.0, frames=8):
    return {"run_id": f"{model}-{dataset}", "model": model, "method": model.split("_")[0].upper(),
            "dataset": dataset, "frames": frames, "size": "224x224", "views": "1x1", "top1": top1, "top5": top5,
            "videos": 100, "status": "ok", "protocol": "tsm-sthv1", "fingerprint": "test"}


@pytest.fixture
def results(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    profiles = [profile_record("tsm_r50"), profile_record("tsn_r50", latency=450.0),
                profile_record("tsm_r50", batch=8, latency=3000.0, throughput=2.67),
                profile_record("tsm_r50", frames=16, gflops=65.8, latency=1000.0, throughput=1.0,
                               by_op={"conv": 65.4, "linear": 0.0131}),
                profile_record("tsn_r50", params=25.0),  # a different head: audited against 24.3 -> flagged
                profile_record("tsm_r50", classes=174, params=23.8807, latency=480.0, throughput=2.1)]
    profiles[-2]["frames"] = 4  # a setting the paper does not report: no audit line
    (folder / "profile.json").write_text(json.dumps(profiles))
    (folder / "eval.json").write_text(json.dumps([eval_record("tsm_r50", top1=44.0)]))
    return folder


def test_comparison_without_dataset_has_one_row_per_setting_with_audit(results):
    profile = json.loads((results / "profile.json").read_text())
    rows = build_comparison(profile)
    by_key = {(r.model, r.frames, r.num_classes): r for r in rows}
    assert set(by_key) == {("tsm_r50", 8, 400), ("tsn_r50", 8, 400), ("tsm_r50", 16, 400), ("tsn_r50", 4, 400),
                           ("tsm_r50", 8, 174)}
    tsm8 = by_key[("tsm_r50", 8, 400)]
    assert tsm8.latency_ms == 500.0 and tsm8.throughput == 2.67 and tsm8.batch_size == 8  # sweep's best
    assert tsm8.params_source == "measured" and tsm8.params_status == "measured" and not tsm8.flagged
    assert any(line.startswith("params +0.1% vs 24.3 (secondary, check)") for line in tsm8.audit)
    assert by_key[("tsn_r50", 4, 400)].audit == []
    assert by_key[("tsm_r50", 8, 174)].audit == []  # the paper's 24.3 is a 400-class figure


def test_audit_flags_a_figure_off_by_more_than_the_tolerance():
    lines, flagged = audit_record(profile_record("tsm_r50", params=25.0))
    assert flagged and any("params +2.9% vs 24.3 (secondary, check) OFF" in line for line in lines)


def test_audit_of_an_unstated_convention_lists_every_convention():
    """TSM's paper does not say how it counted: all three figures are shown; one within 1% passes."""
    record = profile_record("tsm_r50", frames=16, gflops=65.8, by_op={"conv": 65.4, "linear": 0.0131})
    lines, flagged = audit_record(record)
    gflops = next(line for line in lines if line.startswith("GFLOPs"))
    assert not flagged and gflops.startswith(
        "GFLOPs vs 65 (unverified, check), convention not stated: macs +1.2%, macs-no-bn +0.9%, conv-fc +0.6%")
    record = profile_record("tsm_r50", frames=16, gflops=67.0, by_op={"conv": 66.0, "linear": 0.0131})
    lines, flagged = audit_record(record)  # 67.0, 66.8, 66.01: none within 0.65 of 65
    assert flagged and any("OFF, convention not stated" in line for line in lines)
    lines, _ = audit_record(profile_record("eca_r50", frames=None, params=25.557, gflops=4.12, classes=1000))
    assert any(line.startswith("GFLOPs -0.6% vs 3.86 (verified, check)") for line in lines)  # stated: thop MACs


def test_dataset_rows_mark_measured_and_reported_accuracy(results):
    profile = json.loads((results / "profile.json").read_text())
    evals = json.loads((results / "eval.json").read_text())
    rows = build_comparison(profile, evals, dataset="sthv1")
    measured = [r for r in rows if r.accuracy_source == "measured"]
    assert len(measured) == 1 and measured[0].top1 == 44.0 and measured[0].gflops_source == "measured"
    assert measured[0].num_classes == 174 and measured[0].params_m == 23.8807  # the 174-class record
    reported_tsn = next(r for r in rows if r.accuracy_source == "reported" and r.model == "tsn_r50")
    assert reported_tsn.top1 == 19.7 and reported_tsn.latency_ms == 450.0  # paper accuracy, vbench latency
    assert dataset_code("kinetics400") == "K400" and dataset_code("K400") == "K400"
    markdown = to_markdown(sort_rows(rows, "top1"), "SSv1")
    assert "| TSM | tsm_r50 | - | 8 | 32.9 x 1 | 23.9 | 480.0 | 2.1 (b1) | 44.0 | 70.0 |" in markdown
    # the TSM paper's row: top-1 secondary, top-5 unverified; efficiency measured at its 400 classes
    assert "| TSM | tsm_r50 | ResNet-50 | 8 | 32.9 x 1 | 24.3 | 500.0 | 2.7 (b8) | 45.6\u2020 | 74.2? |" in markdown
    assert "| 19.7? | 46.6? |" in markdown and "| 47.2* | - |" in markdown  # the TSM README's 8f 256 row
    assert ("Marks: \\* reported, verified in the source; \u2020 reported, read in a secondary source; "
            "? reported, not verified in the source; \u2021 derived by vbench, not printed; "
            "unmarked: measured by vbench.") in markdown
    assert "| 70.0 x 1\u2021 | - | - | - | 51.9? | 80.3? |" in markdown  # TEA 16f: 2 x 35, not printed


def test_train_runs_of_one_model_are_told_apart_by_dreal_and_seed(results):
    profile = json.loads((results / "profile.json").read_text())
    runs = [eval_record("tsm_r50", top1=40.0 + seed) | {"recipe": {"lr": 0.005}, "seed": seed, "dreal": dreal}
            for seed in (0, 1) for dreal in (False, True)]
    rows = build_comparison(profile, runs + [eval_record("tsm_r50", top1=44.0)], dataset="sthv1")
    labels = sorted(r.method for r in rows if r.accuracy_source == "measured")
    assert labels == ["TSM", "TSM + DREAL, seed 0", "TSM + DREAL, seed 1", "TSM, seed 0", "TSM, seed 1"]


EXPECTED_LATEX_ROW = (r"TSM & tsm\_r50 & - & 8 & 32.9 $\times$ 1 & 23.9 & 480.0 & 2.1 (b1) & 44.0 & 70.0 \\")


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



def test_html_shades_the_row_of_a_flagged_audit():
    rows = build_comparison([profile_record("tsn_r50", params=25.0), profile_record("tsm_r50")])
    page = to_html(rows)
    flagged = [line for line in page.splitlines() if 'class="flag"' in line]
    assert [r.flagged for r in rows] == [True, False] and len(flagged) == 1
    assert "FLAG: params +2.9% vs 24.3" in flagged[0] and "tr:has(.flag) td{background" in page


def test_plot_points_are_the_records_and_labels_do_not_overlap(results):
    profile = json.loads((results / "profile.json").read_text())
    evals = json.loads((results / "eval.json").read_text())
    rows = build_comparison(profile, evals, dataset="sthv1")
    figure = plots.accuracy_vs_gflops(rows, "SSv1", highlight=["tsm_r50"])
    axes = figure.axes[0]
    points, every = {}, set()
    for collection in axes.collections:
        (x, y), = collection.get_offsets()
        points[collection.get_gid()] = (float(x), float(y))
        every.add((collection.get_gid(), float(x), float(y)))
    assert points["tsm_r50|measured|measured"] == (32.9, 44.0)
    assert points["tsn_r50|reported|unverified"] == (32.9, 19.7)  # paper accuracy, vbench GFLOPs
    assert ("tea_r50|reported|derived", 70.0, 51.9) in every  # a derived GFLOPs figure: the weaker status
    measured = next(c for c in axes.collections if c.get_gid() == "tsm_r50|measured|measured")
    reported = next(c for c in axes.collections if c.get_gid() == "tsn_r50|reported|unverified")
    assert measured.get_facecolors()[0][3] > 0 and len(reported.get_facecolors()) == 0  # hollow = reported
    shapes = {c.get_gid().split("|")[2]: len(c.get_paths()[0].vertices) for c in axes.collections}
    assert len({shapes["verified"], shapes["unverified"], shapes["derived"], shapes["secondary"]}) == 4
    legend = {h.get_label(): h.get_marker() for h in axes.get_legend().legend_handles}
    assert legend["unverified"] == "^" and legend["derived (not printed)"] == "D"
    assert legend["secondary source"] == "s" and legend["measured, or verified in the source"] == "o"
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


def test_efficiency_is_matched_on_the_class_count():
    """A 400-class record's params (STM 24.5M) must not sit beside the SSv1 (174-class) accuracy."""
    at_400 = [profile_record("stm_r50", params=24.50, gflops=33.23), profile_record("ean_r50", frames=40,
                                                                                  params=37.45, gflops=37.35)]
    rows = build_comparison(at_400, [], dataset="sthv1", models=["stm_r50", "ean_r50"])
    stm8 = next(r for r in rows if r.model == "stm_r50" and r.frames == 8)
    assert (stm8.params_m, stm8.params_source, stm8.params_status) == (24.0, "reported", "unverified")
    assert stm8.latency_ms is None and stm8.num_classes == 174
    ean8 = next(r for r in rows if r.model == "ean_r50" and r.frames == 40)
    assert ean8.params_m is None and (ean8.gflops, ean8.gflops_status) == (37.0, "verified")  # not 37.45M
    at_174 = at_400 + [profile_record("stm_r50", params=24.04, gflops=33.23, classes=174, latency=400.0)]
    stm8 = next(r for r in build_comparison(at_174, [], dataset="sthv1", models=["stm_r50"]) if r.frames == 8)
    assert (stm8.params_m, stm8.params_status, stm8.latency_ms) == (24.04, "measured", 400.0)
    k400 = build_comparison(at_400, [], dataset="kinetics400", models=["stm_r50"])
    assert [(r.frames, r.params_m) for r in k400] == [(16, None)]  # K400 16f: no 16-frame record at 400


def test_random_weight_eval_records_are_left_out_with_a_note(results, tmp_path):
    evals = [eval_record("tsm_r50", top1=44.0),  # an old record without the field: shown as before
             eval_record("tsm_r50", top1=0.6) | {"weights": "random", "weights_seed": 0},
             eval_record("tsn_r50", top1=0.5) | {"weights": "random", "weights_seed": 1},
             eval_record("tsn_r50", top1=38.0) | {"weights": "checkpoint"}]
    (results / "eval.json").write_text(json.dumps(evals))
    rows, paths = write_report(results, tmp_path, dataset="sthv1", formats=("md", "latex", "html", "csv"))
    assert sorted(r.top1 for r in rows if r.accuracy_source == "measured") == [38.0, 44.0]
    note = "2 eval records with random weights (no checkpoint) were left out"
    for path in paths:
        assert (note in path.read_text()) == (path.suffix != ".csv"), path.name
    markdown = (tmp_path / "report-SSv1.md").read_text()
    assert "| 0.6 |" not in markdown and "| 0.5 |" not in markdown and "| 38.0 |" in markdown
    plotted = plots.accuracy_vs_gflops(build_comparison(json.loads((results / "profile.json").read_text()), evals,
                                                        dataset="sthv1"), "SSv1")
    ys = {float(c.get_offsets()[0][1]) for c in plotted.axes[0].collections if "|measured|" in c.get_gid()}
    assert ys == {44.0}  # not the random tsm_r50 0.6; tsn_r50 has no 174-class GFLOPs record: not plotted
    plt.close(plotted)
    assert "random weights" not in to_markdown(rows, "SSv1")  # the note comes from the records, not the rows


def test_every_format_carries_each_figures_status(results, tmp_path):
    rows, paths = write_report(results, tmp_path, dataset="sthv1")
    text = {p.suffix: p.read_text() for p in paths}
    assert r"45.6$^{\dagger}$ & 74.2$^{?}$" in text[".tex"] and r"70.0 $\times$ 1$^{\ddagger}$" in text[".tex"]
    assert r"$^{\ddagger}$ derived by vbench, not printed" in text[".tex"]
    assert ('<td><em>45.6</em><span title="reported, read in a secondary source">\u2020</span></td>'
            in text[".html"].replace("<td >", "<td>"))  # pandas' Styler writes "<td >"
    assert "<p>Marks: * reported, verified in the source;" in text[".html"]
    import csv as csv_module
    import io

    table = list(csv_module.DictReader(io.StringIO(text[".csv"])))
    tsm8 = next(r for r in table if r["model"] == "tsm_r50" and r["top1"] == "45.6")
    assert (tsm8["top1_status"], tsm8["top5_status"], tsm8["params_status"]) == ("secondary", "unverified", "measured")
    tea16 = next(r for r in table if r["model"] == "tea_r50" and r["top1"] == "51.9")
    assert (tea16["gflops_status"], tea16["top1_status"]) == ("derived", "unverified")


def test_unstable_dirty_and_legacy_measurements_are_marked_and_named(tmp_path):
    legacy = {k: v for k, v in profile_record("tea_r50").items() if k != "fingerprint"}
    records = [{**profile_record("tsm_r50"), "latency_stable": False, "dirty": True},
               {**profile_record("tsn_r50"), "latency_stable": True, "dirty": False},
               {**legacy, "git_rev": "abc+dirty"}]  # a record from before fingerprints
    (tmp_path / "profile.json").write_text(json.dumps(records))
    rows, paths = write_report(tmp_path, formats=("md", "csv", "latex", "html"))
    markdown = (tmp_path / "report.md").read_text()
    by_model = {line.split(" | ")[1]: line for line in markdown.splitlines() if line.startswith("| ")}
    assert "500.0!" in by_model["tsm_r50\u00a7"] and "500.0!" not in by_model["tsn_r50"]
    assert "tea_r50\u00a7" in by_model  # legacy, and dirty by its revision
    assert "! latency unstable (IQR above 10% of the median, even measured a second time): tsm_r50" in markdown
    assert "(dirty): tea_r50, tsm_r50." in markdown and "legacy records" in markdown and "): tea_r50." in markdown
    assert "latency unstable" in (tmp_path / "report.tex").read_text()
    assert "latency unstable" in (tmp_path / "report.html").read_text()
    header, *lines = (tmp_path / "report.csv").read_text().splitlines()
    assert {"latency_stable", "dirty", "legacy"} <= set(header.split(","))
