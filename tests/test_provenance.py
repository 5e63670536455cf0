"""Every number traceable: records keep the provenance of the run that measured them,
carry a fingerprint of what was measured, and a changed model is measured again."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import vbench
from vbench import environment, fingerprint
from vbench.errors import VbenchError
from vbench.profiling import runner
from vbench.profiling.runner import ProfileSettings, profile
from vbench.profiling.timing import Latency
from vbench.results import RecordStore, prepare_folder
from vbench.training.engine import TrainSettings, train

ROOT = Path(__file__).resolve().parents[1]
FAST = dict(frames=2, size=(32, 32), time_budget_s=0.3, warmup=1)
TINY = dict(dataset="synthetic", model="tsn_r18", frames=4, size=32, short_side=32, batch_size=4, epochs=2,
            limit_train=8, limit_val=4, workers=0, dropout=0.0)


def test_provenance_has_a_boolean_dirty_flag_and_the_load():
    stamp = environment.provenance()
    rev, dirty = environment.git_state()
    assert stamp["git_rev"] == rev and stamp["dirty"] is dirty
    assert rev is None or (len(rev) == 12 and "+" not in rev)
    assert isinstance(stamp["loadavg_1m"], float) and stamp["cpu_count"] >= 1


def test_a_resume_keeps_the_original_stamp_and_adds_its_time():
    original = {"git_rev": "abc", "dirty": False, "time": "2026-01-01T00:00:00+00:00"}
    resumed = environment.stamp_resume(original)
    again = environment.stamp_resume(resumed)
    assert again["time"] == original["time"] and again["git_rev"] == "abc" and again["dirty"] is False
    assert len(again["resumed_at"]) == 2 and "resumed_at" not in original


def _write_module(path: Path, width: int) -> None:
    path.write_text(f"from torch import nn\n\nclass Toy(nn.Module):\n    def __init__(self):\n"
                    f"        super().__init__()\n        self.fc = nn.Linear(3, {width})\n")


def test_a_model_fingerprint_follows_its_own_source_file_only(tmp_path, monkeypatch):
    import importlib

    _write_module(tmp_path / "toy_model_fp.py", 4)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("toy_model_fp")
    before = fingerprint.model_parts(module.Toy())
    _write_module(tmp_path / "toy_model_fp.py", 5)  # the file changes: its code hash must
    fingerprint._file_sha.cache_clear()
    after = fingerprint.model_parts(module.Toy())
    assert before["model_code"] != after["model_code"]

    tsm_files = fingerprint.model_sources(vbench.create_model("tsm_r18"))
    assert "vbench/models/tsm.py" in tsm_files and "vbench/models/modules/shift.py" in tsm_files
    assert not any("p3d" in f or "tea" in f for f in tsm_files)
    p3d_files = fingerprint.model_sources(vbench.create_model("p3d_r18"))
    assert "vbench/models/p3d.py" in p3d_files and "vbench/models/tsm.py" not in p3d_files


def test_constructor_arguments_change_the_fingerprint():
    plain = fingerprint.model_parts(vbench.create_model("tsm_r18"))
    other = fingerprint.model_parts(vbench.create_model("tsm_r18", num_classes=10))
    assert plain["model_code"] == other["model_code"] and plain["model_arguments"] != other["model_arguments"]
    old, new = fingerprint.fingerprint(plain), fingerprint.fingerprint(other)
    assert fingerprint.explain(old, old) is None
    assert "constructor arguments" in fingerprint.explain(old, new)
    assert "no fingerprint" in fingerprint.explain({"model": "x"}, new)


def test_profile_resume_measures_a_changed_model_again_and_says_why(tmp_path, monkeypatch):
    settings = ProfileSettings(metrics=("params", "flops"), **FAST)
    [first] = profile(["tsn_r18"], settings, out_dir=tmp_path)
    assert first["fingerprint"] and set(first["fingerprint_parts"]) == {
        "model_code", "model_arguments", "measuring_code", "settings"}
    notes = []
    [kept] = profile(["tsn_r18"], settings, out_dir=tmp_path, resume=True, on_note=notes.append)
    assert kept == first and notes == []

    real = runner.model_parts
    monkeypatch.setattr(runner, "model_parts", lambda model: {**real(model), "model_code": "edited"})
    [again] = profile(["tsn_r18"], settings, out_dir=tmp_path, resume=True, on_note=notes.append)
    assert notes == ["tsn_r18 (batch 1): measured again, as the model's code changed since it was made"]
    assert again["fingerprint"] != first["fingerprint"]
    assert json.loads((tmp_path / "profile.json").read_text()) == [again]


def test_unstable_latency_is_marked_and_measured_again_at_the_end(tmp_path, monkeypatch):
    from vbench.profiling import timing
    from vbench.profiling.records import profile_markdown

    calls = []

    def fake(fn, device, **kwargs):  # the first timing is noisy, the second quiet
        fn()
        calls.append(1)
        return Latency(100.0, 40.0 if len(calls) == 1 else 2.0, 9, "fake")

    monkeypatch.setattr(timing, "measure_latency", fake)
    quiet = {"loadavg_1m": 0.1, "matmul_gmacs": 80.0}
    monkeypatch.setattr("vbench.profiling.load.machine_load", lambda device: dict(quiet))
    monkeypatch.setattr("vbench.profiling.load.measure_cpu_share", lambda fn: (fn(), 0.97))
    notes = []
    settings = ProfileSettings(metrics=("latency",), **FAST)
    [record] = profile(["tsn_r18"], settings, out_dir=tmp_path, on_note=notes.append)
    assert len(calls) == 2 and "latency unstable (IQR 40.0 of 100.0 ms), measuring it again" in notes[0]
    assert record["latency_stable"] is True and record["latency_iqr_ms"] == 2.0
    assert record["first_latency"]["latency_iqr_ms"] == 40.0 and record["stability_rule"]
    assert record["machine_load"] == {"before": quiet, "after": quiet} and record["machine_busy"] is False

    monkeypatch.setattr(timing, "measure_latency", lambda fn, device, **k: Latency(100.0, 40.0, 9, "fake"))
    [noisy] = profile(["tsn_r18"], settings, out_dir=tmp_path)
    assert noisy["latency_stable"] is False and noisy["first_latency"]["latency_iqr_ms"] == 40.0
    markdown = profile_markdown([noisy])
    assert "100.0 (40.0)!" in markdown and "! unstable latency" in markdown


def test_profile_out_that_cannot_be_created_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(VbenchError, match="cannot create the results folder"):
        prepare_folder(blocker / "sub")
    process = subprocess.run([sys.executable, "-m", "vbench", "profile", "-m", "tsn_r18", "--metrics", "params",
                              "--out", str(blocker / "sub")], capture_output=True, text=True, timeout=300,
                             cwd=ROOT)
    assert process.returncode == 2 and "Traceback" not in process.stderr
    assert "cannot create the results folder" in process.stderr and "pick another --out" in process.stderr


def test_a_resumed_train_run_keeps_its_start_and_a_finished_one_is_not_restamped(tmp_path):
    settings = TrainSettings(**TINY, out=str(tmp_path))

    def stop_after_first(entry):
        if entry["epoch"] == 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(settings, on_epoch=stop_after_first)
    [checkpoint] = tmp_path.glob("train/*/last.pth")
    started = torch.load(checkpoint, weights_only=False)["provenance"]
    resumed = train(TrainSettings(**TINY, out=str(tmp_path), resume=True))
    assert resumed["time"] == started["time"] and resumed["git_rev"] == started["git_rev"]
    assert resumed["dirty"] is started["dirty"] and len(resumed["resumed_at"]) == 1
    assert resumed["reconstruction"] is False and resumed["dreal"] is False
    again = train(TrainSettings(**TINY, out=str(tmp_path), resume=True))  # finished: the record as it was
    assert again == resumed
    assert RecordStore(tmp_path, "train", ("run_id",)).records == [resumed]


def test_a_changed_model_is_trained_again_with_the_reason(tmp_path, monkeypatch):
    from vbench.training import engine

    first = train(TrainSettings(**TINY, out=str(tmp_path)))
    real = engine.model_parts
    monkeypatch.setattr(engine, "model_parts", lambda model: {**real(model), "model_arguments": "new default"})
    notes = []
    again = train(TrainSettings(**TINY, out=str(tmp_path), resume=True), on_note=notes.append)
    assert len(notes) == 1 and "training starts again, as the model's constructor arguments or defaults changed" \
        in notes[0]
    assert again["fingerprint"] != first["fingerprint"] and "resumed_at" not in again
    assert notes[0] in again["notes"]


def test_a_reconstruction_is_recorded_as_one_whatever_the_dreal_flag(tmp_path):
    record = train(TrainSettings(**{**TINY, "model": "stsm_r18", "epochs": 1}, out=str(tmp_path)))
    assert record["reconstruction"] is True and record["dreal"] is False


def test_an_eval_of_a_changed_model_starts_over_with_the_reason(tmp_path, monkeypatch):
    from vbench.evaluation import records
    from vbench.evaluation.engine import EvalSettings, evaluate

    settings = EvalSettings(dataset="synthetic", model="tsn_r18", frames=4, short_side=32, crop_size=32, limit=4,
                            workers=0, out=str(tmp_path), resume=True)
    first = evaluate(settings)
    assert first["fingerprint"] and "evaluation_code" in first["fingerprint_parts"]
    notes = []
    assert evaluate(settings, on_note=notes.append)["time"] == first["time"] and notes == []
    real = records.eval_fingerprint
    monkeypatch.setattr("vbench.evaluation.engine.eval_fingerprint",
                        lambda model, sid: real(model, sid) | {"fingerprint": "x", "fingerprint_parts": {
                            **real(model, sid)["fingerprint_parts"], "data_code": "edited"}})
    again = evaluate(settings, on_note=notes.append)
    assert len(notes) == 1 and "not resumed, as the data pipeline's code changed" in notes[0]
    assert notes[0] in again["notes"] and "resumed_at" not in again


def test_records_made_before_fingerprints_read_as_legacy_with_a_boolean_dirty(tmp_path):
    from vbench.profiling.records import profile_markdown
    from vbench.results import load_records

    old = {"model": "tsn_r50", "git_rev": "91f4f4a351d6+dirty", "time": "2026-11-26T02:17:00+00:00",
           "frames": 8, "size": "224x224", "batch_size": 1, "status": "ok", "precision": "fp32", "device": "cpu"}
    (tmp_path / "profile.json").write_text(json.dumps([old, {**old, "git_rev": "8b0266dc30df", "fingerprint": "f"}]))
    legacy, current = load_records(tmp_path / "profile.json")
    assert legacy["dirty"] is True and legacy["git_rev"] == "91f4f4a351d6" and legacy["legacy"] is True
    assert current["dirty"] is False and "legacy" not in current
    markdown = profile_markdown([legacy, current])
    assert "| tsn_r50* |" in markdown and "ok (legacy record)" in markdown and "legacy record: made before" in markdown


def test_a_steady_load_that_keeps_the_iqr_small_still_marks_the_latency_unstable(tmp_path, monkeypatch):
    """Two busy processes slow every timed run alike: the IQR stays small, but the timing
    gets half the processor time its threads would (measured: 0.49 against 0.98 quiet)."""
    from vbench.profiling import timing

    shares = iter([0.98, 0.49, 0.97])  # tsn quiet, tsm under load, tsm again quiet
    monkeypatch.setattr("vbench.profiling.load.measure_cpu_share", lambda fn: (fn(), next(shares)))
    latencies = iter([500.0, 2800.0, 600.0])
    monkeypatch.setattr(timing, "measure_latency", lambda fn, device, **k: Latency(next(latencies), 5.0, 9, "fake"))
    notes = []
    tsn, tsm = profile(["tsn_r18", "tsm_r18"], ProfileSettings(metrics=("latency",), **FAST), out_dir=tmp_path,
                       on_note=notes.append)
    assert notes == ["tsm_r18 (batch 1): latency unstable (machine busy: the timing got 49% of its threads' "
                     "processor time), measuring it again"]
    assert tsn["latency_stable"] is True and tsn["first_latency"] is None and tsn["latency_ms"] == 500.0
    assert tsm["latency_stable"] is True and tsm["machine_busy"] is False and tsm["latency_ms"] == 600.0
    assert tsm["first_latency"]["latency_ms"] == 2800.0 and tsm["first_latency"]["machine_busy"] is True
    assert tsm["first_latency"]["cpu_share"] == 0.49 and tsm["cpu_share"] == 0.97
    assert json.loads((tmp_path / "profile.json").read_text()) == [tsn, tsm]


def test_the_cpu_share_of_a_timing_is_measured():
    from vbench.profiling.load import measure_cpu_share

    result, share = measure_cpu_share(lambda: sum(i * i for i in range(2_000_000)))
    assert result > 0 and 0 < share <= 1.05  # one Python thread of torch's threads: at most their share
