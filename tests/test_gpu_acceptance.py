"""The GPU acceptance run's CPU-side logic: each invariant passes right numbers and fails
wrong ones, the plan fits its budget, the script explains itself without a GPU, and its
report and chart come out of records; on a CUDA machine, a one-model run."""

import importlib.util
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from vbench.models.registry import list_models
from vbench.profiling import acceptance as checks
from vbench.profiling.acceptance_plan import (BATCHES, BUDGET_S, COMPILE_S, PRECISIONS, Config, config_seconds,
                                              gflops_from_records, plan_run)

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_acceptance.py"
MIB = 1 << 20


def _script():
    spec = importlib.util.spec_from_file_location("gpu_acceptance", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_event_and_wall_clock_must_agree_within_five_percent():
    assert checks.event_matches_wall(10.0, 10.4).passed
    assert checks.event_matches_wall(9.7, 10.0).passed
    unsynchronised = checks.event_matches_wall(10.0, 0.3)  # the wall clock read before the GPU finished
    assert not unsynchronised.passed and "beyond 5%" in unsynchronised.reason
    assert not checks.event_matches_wall(10.0, 11.0).passed
    assert not checks.event_matches_wall(float("nan"), 10.0).passed


def test_peak_memory_holds_weights_and_input_and_fits_the_device():
    assert checks.peak_memory_plausible(500 * MIB, 100 * MIB, 20 * MIB, 80_000 * MIB).passed
    missed = checks.peak_memory_plausible(90 * MIB, 100 * MIB, 20 * MIB, 80_000 * MIB)
    assert not missed.passed and "below weights + input" in missed.reason
    assert not checks.peak_memory_plausible(81_000 * MIB, 100 * MIB, 20 * MIB, 80_000 * MIB).passed


def test_low_precision_logits_close_to_fp32_but_not_identical():
    assert checks.logits_close(0.01, 2.0, "fp16").passed
    assert checks.logits_close(0.1, 2.0, "bf16").passed
    assert not checks.logits_close(0.5, 2.0, "fp16").passed
    assert not checks.logits_close(math.inf, 2.0, "bf16").passed
    unchanged = checks.logits_close(0.0, 2.0, "bf16")  # autocast not applied
    assert not unchanged.passed and "no effect" in unchanged.reason
    assert checks.logits_close(0.0, 2.0, "fp32").passed  # another layout may round alike
    assert not checks.logits_close(0.05, 2.0, "fp32").passed


def test_throughput_rises_until_it_levels_off():
    assert checks.throughput_rises_until_saturation({1: 100.0, 8: 600.0, 32: 900.0}).passed
    assert checks.throughput_rises_until_saturation({1: 100.0, 8: 300.0, 32: 290.0}).passed  # saturated
    drop = checks.throughput_rises_until_saturation({1: 100.0, 8: 600.0, 32: 400.0})
    assert not drop.passed and "batch 32" in drop.reason
    assert not checks.throughput_rises_until_saturation({1: 100.0, 8: 50.0}).passed
    assert not checks.throughput_rises_until_saturation({1: 100.0, 8: float("nan")}).passed
    assert checks.throughput_rises_until_saturation({1: 100.0}).passed


def test_cudnn_benchmark_is_set_alike_for_every_measurement():
    assert checks.cudnn_benchmark_consistent([True] * 5).passed
    mixed = checks.cudnn_benchmark_consistent([True, True, False])
    assert not mixed.passed and "2 True and 1 False" in mixed.reason
    assert not checks.cudnn_benchmark_consistent([False, False], expected=True).passed
    assert not checks.cudnn_benchmark_consistent([]).passed


def test_first_timed_run_is_not_an_outlier():
    assert checks.warmup_sufficient([10.3, 10.0, 10.1, 9.9, 10.2, 10.0]).passed
    cold = checks.warmup_sufficient([25.0, 10.0, 10.1, 9.9, 10.2, 10.0])  # autotuning inside the timing
    assert not cold.passed and "25.000" in cold.reason
    assert not checks.warmup_sufficient([10.0, 10.0]).passed  # too few to judge


def test_gpu_warmup_never_stops_after_the_slow_first_pass():
    from vbench.profiling.timing import measure_latency

    calls = []

    def slow_first():
        calls.append(1)
        time.sleep(0.3 if len(calls) == 1 else 0.001)
        if len(calls) > 2:
            raise StopIteration  # past the warm-up: enough seen

    fake_gpu = SimpleNamespace(type="cuda")
    with pytest.raises(Exception):
        measure_latency(slow_first, fake_gpu, warmup=3, budget_s=1.0)
    assert len(calls) >= 2
    calls.clear()
    measure_latency(lambda: calls.append(1) or time.sleep(0.3 if len(calls) == 1 else 0.001),
                    torch.device("cpu"), warmup=3, budget_s=0.5)
    assert len(calls) > 1  # the CPU rule is unchanged: timed runs follow one warm-up pass here


def _zoo_plan(budget=BUDGET_S):
    gflops = gflops_from_records(ROOT / "results" / "profile.json")
    return plan_run(list_models(), gflops, budget), gflops


def test_the_plan_covers_the_sweep_of_every_model_within_eight_minutes():
    plan, gflops = _zoo_plan()
    assert len(gflops) == len(list_models())  # sized from the reference records, not the default
    assert plan.total_s <= BUDGET_S == 480
    chosen = set(plan.configs)
    for model in list_models():
        for precision in PRECISIONS:
            for batch in BATCHES:
                assert Config(model, precision, batch) in chosen
        assert Config(model, "fp16", 32, channels_last=True, tier="layout") in chosen
    compiled = [c for c in plan.configs if c.compile]
    assert compiled and compiled[0].model == "tsm_r50"  # a 2D trunk first, then a 3D model
    assert {c.tier for c, _ in plan.left_out} == {"compile"}  # only compiles are cut


def test_a_short_budget_cuts_compiles_then_layouts_never_the_order():
    plan, _ = _zoo_plan(budget=300)
    assert plan.total_s <= 300
    assert not any(c.compile for c in plan.configs)
    assert all(c.tier == "sweep" for c in plan.configs[:len(list_models())])
    tiers = [c.tier for c in plan.configs]
    assert tiers == sorted(tiers, key=["sweep", "layout", "compile"].index)


def test_cost_grows_with_work_and_compiles():
    light, heavy = Config("tsm_r50", "fp32", 32), Config("r2plus1d_r34", "fp32", 32)
    assert config_seconds(heavy, 152.8) > config_seconds(light, 33.0)
    assert config_seconds(Config("m", "fp16", 1, compile=True), 33.0) - config_seconds(Config("m", "fp16", 1), 33.0) \
        == pytest.approx(COMPILE_S)


def _run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=300)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message a machine without a GPU gives")
def test_without_a_gpu_the_script_says_so_in_one_line_and_dry_run_prints_the_plan():
    result = _run("--models", "tsm_r50")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [_script().NEEDS_CUDA]
    result = _run("--dry-run")
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"{len(_zoo_plan()[0].configs)} measurements of 22 models") and "480 s budget" in first


def _record(model, precision, batch, throughput, checks_=(), channels_last=False, compiled=False, status="ok"):
    return {"model": model, "precision": precision, "batch_size": batch, "throughput": throughput,
            "channels_last": channels_last, "compile": compiled, "status": status, "checks": list(checks_),
            "cudnn_benchmark": True, "device_name": "Test GPU", "latency_ms": batch / throughput * 1e3,
            "spent_s": 1.0, "error": None if status == "ok" else "not reached within the 480 s budget"}


def test_report_and_chart_come_out_of_records(tmp_path):
    script = _script()
    bad = checks.event_matches_wall(10.0, 2.0).as_dict()
    records = [_record("tsm_r50", "fp32", 1, 50.0), _record("tsm_r50", "fp32", 8, 200.0),
               _record("tsm_r50", "fp32", 32, 120.0, [bad]), _record("tsm_r50", "fp16", 1, 80.0),
               _record("tsm_r50", "fp16", 1, 90.0, channels_last=True, compiled=True),
               _record("tea_r50", "bf16", 32, 1.0, status="skipped")]
    found = script.run_checks(records)
    sweep = next(c for c in found if c["name"] == "throughput vs batch: tsm_r50 fp32")
    assert not sweep["passed"] and "batch 32" in sweep["reason"]
    assert next(c for c in found if c["name"] == "cudnn.benchmark")["passed"]
    report = script.report_markdown(records, found, wall_s=12.0, budget_s=480)
    assert "# GPU acceptance on Test GPU" in report and "5 of 6 measurements made in 12 s" in report
    assert "| event vs wall clock | 0 | 1 |" in report and "Failed checks (2)" in report
    assert "| tsm_r50 | 50.0 | 200.0 | 120.0 | 80.0 |" in report
    assert "tea_r50 bf16 batch 32: skipped: not reached" in report
    chart = script.write_chart(records, tmp_path / "throughput_vs_batch.png")
    assert chart.exists() and chart.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_one_model_acceptance_run_on_the_gpu(tmp_path):
    code = _script().main(["--models", "tsm_r50", "--out", str(tmp_path), "--budget", "240"])
    report = (tmp_path / "report.md").read_text()
    assert code == 0, report
    assert (tmp_path / "acceptance.json").exists() and (tmp_path / "throughput_vs_batch.png").exists()
    assert "Failed checks (0)" in report


def test_the_measuring_loop_runs_end_to_end_on_the_cpu(tmp_path, monkeypatch):
    """The loop's logic (records saved, checks attached, a config past the deadline not
    reached) on the CPU at 32x32; the device total and the memory reading, which need a
    GPU, are stood in for, so the numbers here prove nothing about a GPU."""
    from vbench.profiling import memory
    from vbench.profiling.acceptance_plan import Plan

    script = _script()
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: SimpleNamespace(total_memory=64 << 30))
    monkeypatch.setattr(memory, "cuda_peak_memory",
                        lambda run, device: (run(), memory.PeakMemory(4096.0, "stand-in"))[1])
    small = script.request_for
    monkeypatch.setattr(script, "request_for", lambda config: {**small(config), "size": [32, 32], "device": "cpu"})
    configs = [Config("tsm_r50", "fp32", 1), Config("tsm_r50", "bf16", 1), Config("tsm_r50", "fp32", 8)]
    plan = Plan(configs, {configs[0]: 1.0, configs[1]: 1.0, configs[2]: 1e6})
    records = script.run_plan(plan, torch.device("cpu"), tmp_path, budget_s=480)
    assert [r["status"] for r in records] == ["ok", "ok", "skipped"]
    assert records[2]["error"] == "not reached within the 480 s budget"
    names = [c["name"] for c in records[1]["checks"]]
    assert names == ["event vs wall clock", "peak memory", "warm-up", "bf16 logits"]
    assert 0 < records[1]["logit_max_abs_diff"] and records[1]["cudnn_benchmark"] is True
    assert records[0]["wall_median_ms"] > 0
    assert records[0]["weights_mb"] == pytest.approx(24.33e6 * 4 / MIB, rel=0.01)  # fp32 weights and buffers
    stored = json.loads((tmp_path / "acceptance.json").read_text())
    assert [r["status"] for r in stored] == ["ok", "ok", "skipped"]
    assert "skipped: not reached" in (tmp_path / "acceptance.md").read_text()
