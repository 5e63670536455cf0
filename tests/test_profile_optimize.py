"""``vbench profile --optimize``: BatchNorm folding is exact and refused where it would not
be, and the record says truthfully what was done and what it gained."""

import json
import shutil

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from vbench.cli import app
from vbench.errors import VbenchError
from vbench.models.registry import create_model, model_info
from vbench.profiling.bn_fold import find_foldable_pairs, fold_batchnorm, fold_pairs, logit_gap, randomise_batchnorm
from vbench.profiling.records import profile_markdown
from vbench.profiling.runner import ProfileSettings, profile


def _model_and_input(name, frames, size=32):
    model = create_model(name, num_classes=10, num_frames=frames).eval()
    return model, torch.randn(model_info(name).input_shape(1, frames, (size, size)))


@pytest.mark.parametrize("name, frames", [("tsm_r18", 2), ("r2plus1d_r18", 2), ("tea_r18", 4)])
def test_folding_every_batchnorm_keeps_the_logits(name, frames):
    model, x = _model_and_input(name, frames)
    with torch.inference_mode():
        default_bn = model(x)
    randomise_batchnorm(model)  # far from identity, so that a missing or wrong fold would show
    with torch.inference_mode():
        eager = model(x)
    assert logit_gap(eager, default_bn) > 1e-2  # the statistics matter to these logits
    folded, plan, note = fold_batchnorm(model, x)
    assert note is None and plan.pairs and len(plan.pairs) == plan.batchnorms, plan.refused
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in folded.modules())
    assert any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())  # the original is kept
    with torch.inference_mode():
        assert logit_gap(folded(x), eager) < 1e-4


class Pairs(nn.Module):
    """One foldable conv -> BN pair beside four that look like one and are not."""

    def __init__(self):
        super().__init__()
        self.safe, self.safe_bn = nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.residual, self.residual_bn = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.inplace, self.inplace_bn = nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4)
        self.twice, self.twice_bn = nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4)
        self.viewed, self.viewed_bn = nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4)

    def forward(self, x):
        x = self.safe_bn(self.safe(x))
        y = self.residual(x)
        x = self.residual_bn(y) + y  # the conv's output is read twice
        y = self.inplace(x)
        y.mul_(2)  # changed in place before the BN reads it
        x = self.inplace_bn(y)
        x = self.twice_bn(self.twice(self.twice(x)))  # the conv runs twice
        x = self.viewed_bn(self.viewed(x).flip(1))  # the BN reads another tensor
        return x.mean((2, 3))


def test_only_the_exact_pair_is_folded_and_the_others_would_change_the_logits():
    model, x = randomise_batchnorm(Pairs().eval()), torch.randn(2, 3, 8, 8)
    plan = find_foldable_pairs(model, x)
    assert plan.pairs == [("safe", "safe_bn")]
    assert set(plan.refused) == {"residual_bn", "inplace_bn", "twice_bn", "viewed_bn"}
    assert "read by 2 ops" in plan.refused["residual_bn"]
    with torch.inference_mode():
        eager = model(x)
        for wrong in [("residual", "residual_bn"), ("inplace", "inplace_bn"), ("twice", "twice_bn")]:
            copy = randomise_batchnorm(Pairs().eval())
            assert logit_gap(fold_pairs(copy, [wrong])(x), eager) > 1e-3, wrong  # why each is refused
        folded, _, _ = fold_batchnorm(model, x)
        assert logit_gap(folded(x), eager) < 1e-5


def test_shared_conv_weights_are_not_folded():
    model = Pairs().eval()
    model.viewed.weight = model.inplace.weight
    plan = find_foldable_pairs(model, torch.randn(1, 3, 8, 8))
    assert ("safe", "safe_bn") in plan.pairs and "viewed_bn" in plan.refused


FAST = dict(frames=2, size=(32, 32), time_budget_s=0.3, warmup=1, metrics=("params", "latency"))


def test_a_model_that_does_not_compile_is_recorded_not_a_crash(tmp_path, monkeypatch):
    def no_compiler(*args, **kwargs):
        raise RuntimeError("inductor needs a C++ compiler\nlong second line")

    monkeypatch.setattr(torch, "compile", no_compiler)
    [record] = profile(["tsm_r18"], ProfileSettings(optimize=True, **FAST), out_dir=tmp_path)
    assert record["status"] == "ok", record["error"]
    assert record["compiled"] is False and record["compile_s"] is None
    assert record["compile_error"] == "RuntimeError: inductor needs a C++ compiler"
    assert record["optimizations"][0] == "fold_bn (20 of 20 BatchNorms)" and record["bn_folded"] == 20
    assert record["optimizations"][-1] == "inference_mode"
    assert not any("compile" in step for step in record["optimizations"])
    trial = record["channels_last_trial"]
    assert trial["contiguous_ms"] > 0 and trial["channels_last_ms"] > 0
    assert trial["kept"] == (trial["channels_last_ms"] <= trial["contiguous_ms"])
    assert ("channels_last" in record["optimizations"]) == trial["kept"]
    assert 0 <= record["max_logit_diff"] < 1e-4
    assert record["latency_ms"] > 0 and record["optimized_latency_ms"] > 0
    low, high = record["speedup_iqr"]  # eager and optimised timed alternately, not minutes apart
    assert 0 < low <= record["speedup"] <= high and "alternately" in record["speedup_method"]
    assert record["params_m"] == pytest.approx(11.18, abs=0.3)  # the eager model's (BN included)
    assert record["fingerprint"] and record["git_rev"] is not None and record["optimize"] is True
    stored = json.loads((tmp_path / "profile-optimized.json").read_text())
    assert stored[0]["optimized_latency_ms"] == record["optimized_latency_ms"]
    assert not (tmp_path / "profile.json").exists()  # the eager-only table that reports read is untouched
    table = (tmp_path / "profile-optimized.md").read_text()
    assert "Optimised ms (IQR)" in table and "BN 20/20 folded" in table and "not compiled" in table
    notes = []
    [kept] = profile(["tsm_r18"], ProfileSettings(optimize=True, **FAST), out_dir=tmp_path, resume=True,
                     on_note=notes.append)
    assert kept["optimized_latency_ms"] == record["optimized_latency_ms"] and not notes  # resumed, not re-measured


def test_a_compiled_model_that_breaks_after_warm_up_is_timed_eager_and_says_why(tmp_path, monkeypatch):
    def breaks_later(model, *args, **kwargs):
        calls = []

        def compiled(x):
            calls.append(1)
            if len(calls) > 4:  # compiled, warmed up, then a guard fails
                raise RuntimeError("recompile failed: guard error")
            return model(x)
        return compiled

    monkeypatch.setattr(torch, "compile", breaks_later)
    [record] = profile(["tsm_r18"], ProfileSettings(optimize=True, **FAST), out_dir=tmp_path)
    assert record["status"] == "ok", record["error"]
    assert record["compiled"] is False and "RuntimeError: recompile failed: guard error" in record["compile_error"]
    assert not any("compile" in step for step in record["optimizations"])
    assert record["optimized_latency_ms"] > 0 and record["max_logit_diff"] < 1e-4


def test_the_optimize_setting_is_part_of_the_fingerprint(tmp_path, monkeypatch):
    from vbench.profiling.runner import measurement_fingerprint, measurement_request

    model = create_model("tsm_r18", num_classes=10, num_frames=2)
    request = measurement_request("tsm_r18", ProfileSettings(**FAST), 1, torch.device("cpu"))
    plain = measurement_fingerprint(model, request, ProfileSettings(**FAST))
    optimized = measurement_fingerprint(model, request, ProfileSettings(optimize=True, **FAST))
    assert plain["fingerprint"] != optimized["fingerprint"]


@pytest.mark.parametrize("extra", [dict(compile=True), dict(channels_last=True), dict(metrics=("params",))])
def test_optimize_with_a_setting_it_owns_is_a_clear_error(extra):
    with pytest.raises(VbenchError, match="optimize"):
        ProfileSettings(optimize=True, **{**FAST, **extra}).validate()


def test_cli_optimize_and_compile_gives_one_line(tmp_path):
    result = CliRunner().invoke(app, ["profile", "-m", "tsm_r18", "--optimize", "--compile", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "drop --channels-last/--compile" in result.output
    assert "Traceback" not in result.output


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None,
                    reason="torch.compile on the CPU needs a C compiler")
def test_optimize_compiles_and_keeps_the_compile_time_apart(tmp_path):
    settings = ProfileSettings(optimize=True, **{**FAST, "size": (16, 16)})
    [record] = profile(["tsn_r18"], settings, out_dir=tmp_path)
    assert record["status"] == "ok", record["error"]
    assert record["compile_error"] is None, record["compile_error"]
    trial = record["compile_trial"]  # compiled, then kept only where it is not slower than eager
    assert trial["compiled_ms"] > 0 and trial["kept"] == (trial["compiled_ms"] <= trial["eager_ms"])
    assert record["compiled"] is trial["kept"]
    assert ("torch.compile (inductor)" in record["optimizations"]) is trial["kept"]
    assert record["compile_s"] > trial["compiled_ms"] / 1e3  # compiling is not in the latency
    assert 3 <= record["compile_warmup_calls"] <= 20  # warm until three calls without a recompile
    assert record["max_logit_diff"] < 1e-4
    assert "Optimised" in profile_markdown([record])


def test_a_compiled_model_slower_than_eager_is_not_kept(tmp_path, monkeypatch):
    """Inductor made some models slower on the CPU: deploy mode keeps the faster of the two."""
    import time

    def slow_compile(model, *args, **kwargs):
        def compiled(x):
            time.sleep(0.02)
            return model(x)
        return compiled

    monkeypatch.setattr(torch, "compile", slow_compile)
    [record] = profile(["tsm_r18"], ProfileSettings(optimize=True, **FAST), out_dir=tmp_path)
    assert record["status"] == "ok", record["error"]
    trial = record["compile_trial"]
    assert trial["compiled_ms"] > trial["eager_ms"] + 15 and trial["kept"] is False
    assert record["compiled"] is False and record["compile_error"] is None and record["compile_s"] is not None
    assert not any("compile" in step for step in record["optimizations"])
    assert any("torch.compile not kept" in note for note in record["notes"])
    assert record["optimized_latency_ms"] < trial["compiled_ms"]  # timed without the slow wrapper
    assert "compiled, not kept: slower" in (tmp_path / "profile-optimized.md").read_text()


def test_the_record_keeps_the_eager_models_own_rounding_beside_the_logit_difference(tmp_path, monkeypatch):
    monkeypatch.setattr(torch, "compile", lambda model, *a, **k: model)  # compiling is not what this tests
    [record] = profile(["tsm_r18"], ProfileSettings(optimize=True, **FAST), out_dir=tmp_path)
    assert 0 < record["eager_fp64_diff"] < 1e-3  # float32's rounding of this model's logits
    assert record["max_logit_diff"] < 1e-4
    assert "fp32 vs fp64" in (tmp_path / "profile-optimized.md").read_text()
