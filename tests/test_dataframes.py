"""Records as DataFrames: typed columns a notebook can compute on, one-line errors."""

import json

import pandas as pd
import pytest

import vbench
from vbench.errors import VbenchError


def test_records_load_with_numbers_times_and_flags_typed(tmp_path):
    records = [
        {"model": "tsm_r50", "params_m": 24.3274, "latency_ms": 99.5, "batch_size": 1, "dirty": False,
         "latency_stable": True, "time": "2026-12-01T10:00:00+00:00", "gflops_by_op": {"conv": 32.9}, "status": "ok"},
        {"model": "tsn_r50", "params_m": 24.3274, "latency_ms": None, "batch_size": 8, "dirty": True,
         "latency_stable": None, "time": "2026-12-01T11:30:00+00:00", "gflops_by_op": {"conv": 32.9},
         "status": "failed"},
    ]
    (tmp_path / "profile.json").write_text(json.dumps(records))
    frame = vbench.load_records(tmp_path, kind="profile")
    assert list(frame["model"]) == ["tsm_r50", "tsn_r50"]
    assert frame["latency_ms"].dtype == "float64" and pd.isna(frame["latency_ms"][1])
    assert frame["batch_size"].sum() == 9
    assert frame["dirty"].dtype == "boolean" and list(frame["dirty"]) == [False, True]
    assert frame["latency_stable"].isna()[1]
    assert (frame["time"][1] - frame["time"][0]) == pd.Timedelta(minutes=90)
    assert frame["gflops_by_op"][0] == {"conv": 32.9}


def test_a_wrong_kind_or_folder_is_one_line(tmp_path):
    with pytest.raises(VbenchError, match="unknown record kind 'latency': choose from profile, eval, train"):
        vbench.load_records(tmp_path, kind="latency")
    with pytest.raises(VbenchError, match="eval.json does not exist"):
        vbench.load_records(tmp_path, kind="eval")
