import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import vbench
from vbench.profiling.runner import ProfileSettings, parse_size, profile
from vbench.errors import VbenchError

FAST = dict(frames=2, size=(32, 32), time_budget_s=0.3, warmup=1)


def test_profile_writes_json_csv_and_markdown_with_real_figures(tmp_path):
    records = profile(["tsm_r18"], ProfileSettings(batch_sizes=(1, 2), **FAST), out_dir=tmp_path)
    assert [r["batch_size"] for r in records] == [1, 2]
    saved = json.loads((tmp_path / "profile.json").read_text())
    assert saved == records
    r = records[0]
    model = vbench.create_model("tsm_r18", num_frames=2)
    assert r["params_m"] == pytest.approx(sum(p.numel() for p in model.parameters()) / 1e6, abs=1e-4)
    assert r["gflops"] > 0 and r["gflops_by_op"]["conv"] > 0.9 * r["gflops"]
    assert r["latency_ms"] > 0 and r["latency_iqr_ms"] >= 0 and r["throughput"] == pytest.approx(
        1000 / r["latency_ms"], rel=1e-3)
    assert r["peak_memory_mb"] > 0 and "fresh process" in r["memory_method"]
    for key in ("model", "frames", "size", "batch_size", "num_classes", "params_m", "gflops", "uncounted_ops",
                "latency_ms", "latency_iqr_ms", "throughput", "peak_memory_mb", "device", "precision"):
        assert key in r
    assert r["device"] == "cpu" and r["precision"] == "fp32" and r["size"] == "32x32" and r["frames"] == 2
    csv = (tmp_path / "profile.csv").read_text().splitlines()
    assert csv[0].startswith("model,") and len(csv) == 3
    markdown = (tmp_path / "profile.md").read_text()
    dirty = "*" if r["dirty"] else ""  # a record made from a tree with uncommitted changes is marked
    assert f"| tsm_r18{dirty} | 2x32x32 | 2 |" in markdown and "multiply-accumulates" in markdown


def test_metrics_subset_leaves_the_rest_null(tmp_path):
    [r] = profile(["tsn_r18"], ProfileSettings(metrics=("params",), **FAST), out_dir=tmp_path)
    assert r["params_m"] > 0
    assert r["gflops"] is None and r["latency_ms"] is None and r["peak_memory_mb"] is None


def test_resume_skips_finished_records(tmp_path):
    settings = ProfileSettings(metrics=("params", "flops"), **FAST)
    first = profile(["tsn_r18"], settings, out_dir=tmp_path)
    time.sleep(1.1)  # records carry their time to the second: a re-measurement would differ
    second = profile(["tsn_r18", "tsm_r18"], settings, out_dir=tmp_path, resume=True)
    assert second[0]["time"] == first[0]["time"]  # not measured again
    assert [r["model"] for r in json.loads((tmp_path / "profile.json").read_text())] == ["tsn_r18", "tsm_r18"]


class _Broken(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 3)

    def forward(self, x):
        raise RuntimeError("this model cannot run")


def test_a_model_that_fails_is_recorded_and_the_run_goes_on(tmp_path, monkeypatch):
    from vbench.models import registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    def broken_net(num_classes=400, num_frames=8):
        return _Broken()

    registry.register_model(method="Broken", paper="-", year=2000)(broken_net)
    records = profile(["broken_net", "tsn_r18"], ProfileSettings(metrics=("params", "flops"), **FAST),
                      out_dir=tmp_path)
    assert [r["status"] for r in records] == ["failed", "ok"]
    assert "this model cannot run" in records[0]["error"] and records[0]["params_m"] is None
    assert len(json.loads((tmp_path / "profile.json").read_text())) == 2


def test_bad_settings_are_user_errors():
    with pytest.raises(VbenchError, match="metric"):
        profile(["tsn_r18"], ProfileSettings(metrics=("speed",)), out_dir=None)
    with pytest.raises(VbenchError, match="bad size"):
        parse_size("abc")
    assert parse_size("256x128") == (256, 128) and parse_size("224") == (224, 224)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback")
def test_cuda_requested_without_gpu_is_a_user_error_and_auto_falls_back(tmp_path):
    with pytest.raises(VbenchError, match="no GPU"):
        profile(["tsn_r18"], ProfileSettings(device="cuda", **FAST), out_dir=None)
    [r] = profile(["tsn_r18"], ProfileSettings(device="auto", metrics=("params",), **FAST), out_dir=None)
    assert r["device"] == "cpu" and any("CPU" in n for n in r["notes"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_profile_uses_events_and_allocator_peak(tmp_path):
    [r] = profile(["tsm_r18"], ProfileSettings(device="cuda", **FAST), out_dir=tmp_path)
    assert r["device"] == "cuda" and "CUDA events" in r["timing_method"]
    assert "max_memory_allocated" in r["memory_method"] and r["peak_memory_mb"] > 0


def test_killed_profile_resumes_without_losing_or_redoing_records(tmp_path):
    models = ["tsn_r18", "tsm_r18", "tsn_r34", "tsm_r34"]
    command = [sys.executable, "-m", "vbench", "profile", "--frames", "2", "--size", "32", "--metrics",
               "params,flops,latency", "--time-budget", "1", "--out", str(tmp_path)]
    for name in models:
        command += ["-m", name]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = tmp_path / "profile.json"
    deadline = time.time() + 120
    while time.time() < deadline and not (results.exists() and len(json.loads(results.read_text())) >= 1):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = json.loads(results.read_text())  # valid JSON after a kill: atomic writes
    assert 1 <= len(before) < len(models)
    subprocess.run(command + ["--resume"], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = json.loads(results.read_text())
    assert [r["model"] for r in after] == models
    for old in before:
        new = next(r for r in after if r["model"] == old["model"])
        assert new["time"] == old["time"]
        if new["first_latency"] is not None:
            # judged unstable at the resumed run's end (the killed run never reached its end): timed once more
            assert old["first_latency"] is None and new["first_latency"]["latency_ms"] == old["latency_ms"]
        else:
            assert new["latency_ms"] == old["latency_ms"]


def test_cpu_peak_memory_counts_the_model_not_the_import_of_model_files():
    """tsn_r18 on one 8x8 frame: 11.7M fp32 weights (44.7 MiB) and next to no activations.
    Importing every model file (torchvision's models among them) once added ~160 MiB."""
    from vbench.profiling.memory import cpu_peak_memory
    from vbench.profiling.runner import measurement_request

    request = measurement_request("tsn_r18", ProfileSettings(frames=1, size=(8, 8)), 1, torch.device("cpu"))
    mib = cpu_peak_memory(request).mib
    assert 44 < mib < 100


def test_a_child_of_the_probe_server_measures_what_a_fresh_process_does():
    """Each measurement is a child forked from one server that imported torch once; it maps
    the server's resident code pages first, so it counts what a process started for the
    request counts (without that, 12 MiB more: the code the imports had run, faulted again)."""
    from vbench.profiling.memory import ProbeSupply, cpu_peak_memory
    from vbench.profiling.runner import measurement_request

    request = measurement_request("tsn_r18", ProfileSettings(frames=1, size=(8, 8)), 1, torch.device("cpu"))
    fresh = cpu_peak_memory(request)
    supply = ProbeSupply()
    try:
        supply.prefetch("tsn_r18")
        supply.settle()
        supply.settle()  # idle already: returns at once
        first = cpu_peak_memory(request, supply=supply)
        server = supply._server[1].pid
        again = cpu_peak_memory(request, supply=supply)
        assert supply._server[1].pid == server  # one server, a child per measurement
    finally:
        supply.close()
    assert abs(first.mib - fresh.mib) < 1.5 and abs(again.mib - fresh.mib) < 1.5
    assert first.method == fresh.method and "fresh process" in fresh.method


def test_a_failed_probe_child_is_one_line_and_the_server_measures_the_next():
    from vbench.profiling.memory import ProbeSupply, cpu_peak_memory
    from vbench.profiling.runner import measurement_request

    request = measurement_request("tsn_r18", ProfileSettings(frames=1, size=(8, 8)), 1, torch.device("cpu"))
    supply = ProbeSupply()
    try:
        with pytest.raises(RuntimeError, match="memory probe failed: .*size"):
            cpu_peak_memory({**request, "size": [0, 0]}, supply=supply)
        assert 44 < cpu_peak_memory(request, supply=supply).mib < 100
    finally:
        supply.close()


def test_flop_counts_are_cached_under_the_model_and_input_and_give_the_same_figures(tmp_path, monkeypatch):
    from vbench.profiling import cache

    monkeypatch.setenv("VBENCH_CACHE", str(tmp_path / "cache"))
    settings = ProfileSettings(metrics=("flops",), **FAST)
    [counted] = profile(["tsm_r18"], settings, out_dir=None)
    [reused] = profile(["tsm_r18"], settings, out_dir=None)
    assert counted["flops_cached"] is False and reused["flops_cached"] is True
    for key in ("gflops", "gflops_without_bn", "gflops_by_op", "elementwise_gops", "gflops_dispatch", "uncounted_ops"):
        assert reused[key] == counted[key]
    [other_input] = profile(["tsm_r18"], ProfileSettings(metrics=("flops",), **{**FAST, "frames": 4}), out_dir=None)
    assert other_input["flops_cached"] is False and other_input["gflops"] > counted["gflops"]
    real = cache.model_parts
    monkeypatch.setattr(cache, "model_parts", lambda model: {**real(model), "model_code": "edited"})
    [recounted] = profile(["tsm_r18"], settings, out_dir=None)
    assert recounted["flops_cached"] is False and recounted["gflops"] == counted["gflops"]
    [fresh] = profile(["tsm_r18"], ProfileSettings(metrics=("flops",), flop_cache=False, **FAST), out_dir=None)
    assert fresh["flops_cached"] is False


def test_a_paired_ratio_finds_a_known_speed_ratio():
    """Two functions timed alternately: their ratio, whatever the machine does meanwhile."""
    import time

    from vbench.profiling.timing import paired_ratio

    ratio = paired_ratio(lambda: time.sleep(0.006), lambda: time.sleep(0.002), rounds=5, block_s=0.02)
    assert ratio.rounds == 5 and ratio.q1 <= ratio.median <= ratio.q3
    assert 2.0 < ratio.median < 3.2  # 6 ms / 2 ms, less the sleeps' overshoot
