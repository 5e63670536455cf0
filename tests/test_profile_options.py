"""The profile options that change how a model runs: each runs on the CPU and its record
says what was done."""

import shutil

import pytest
import torch

from vbench.profiling.runner import ProfileSettings, build_for_measurement, measurement_request, profile

FAST = dict(frames=2, size=(32, 32), time_budget_s=0.3, warmup=1)


def test_bf16_autocast_runs_the_forward_pass_in_bf16_and_says_so(tmp_path):
    settings = ProfileSettings(precision="bf16", metrics=("params", "latency"), **FAST)
    [record] = profile(["tsm_r18"], settings, out_dir=tmp_path)
    assert record["status"] == "ok" and record["precision"] == "bf16" and record["latency_ms"] > 0
    assert any("autocast(cpu, dtype=bfloat16)" in step for step in record["execution"])
    request = measurement_request("tsm_r18", settings, 1, torch.device("cpu"))
    _, _, run = build_for_measurement(request, torch.device("cpu"))
    assert run().dtype == torch.bfloat16  # the logits come out of autocast's bf16 matmul


def test_channels_last_converts_the_weights_and_says_so(tmp_path):
    settings = ProfileSettings(channels_last=True, metrics=("params", "latency"), **FAST)
    [record] = profile(["tsm_r18"], settings, out_dir=tmp_path)
    assert record["status"] == "ok" and record["channels_last"] is True
    assert "4D parameters in channels_last, 5D in channels_last_3d" in record["execution"]
    request = measurement_request("r2plus1d_r18", settings, 1, torch.device("cpu"))
    model, _, run = build_for_measurement(request, torch.device("cpu"))
    weights = [p for p in model.parameters() if p.dim() == 5]
    assert weights and all(p.is_contiguous(memory_format=torch.channels_last_3d) for p in weights)
    plain = measurement_request("r2plus1d_r18", ProfileSettings(**FAST), 1, torch.device("cpu"))
    assert not build_for_measurement(plain, torch.device("cpu"))[0].stem[0].weight.is_contiguous(
        memory_format=torch.channels_last_3d)
    assert run().shape == (1, 400)


def test_peak_gives_the_matmul_peak_and_the_fraction_reached(tmp_path):
    settings = ProfileSettings(peak=True, metrics=("flops", "latency"), **FAST)
    [record] = profile(["tsn_r18"], settings, out_dir=tmp_path)
    assert record["device_peak_gflops_per_s"] > 1
    achieved = record["gflops"] / (record["latency_ms"] / 1e3)
    assert record["achieved_gflops_per_s"] == pytest.approx(achieved, abs=0.005)  # rounded to 2 decimals
    assert record["peak_fraction"] == pytest.approx(achieved / record["device_peak_gflops_per_s"], abs=1e-4)
    assert 0 < record["peak_fraction"] < 1.5


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None,
                    reason="torch.compile on the CPU needs a C compiler")
def test_compile_times_the_compiled_model_and_says_so(tmp_path):
    settings = ProfileSettings(compile=True, metrics=("latency", "memory"), frames=2, size=(16, 16),
                               time_budget_s=0.5, warmup=1)
    [record] = profile(["tsn_r18"], settings, out_dir=tmp_path)
    assert record["status"] == "ok", record["error"]
    assert record["compile"] is True and record["latency_ms"] > 0
    assert any(step.startswith("torch.compile(model)") for step in record["execution"])
    assert "CPU memory measured on the eager model (no torch.compile)" in record["notes"]
