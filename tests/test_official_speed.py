"""benchmarks/official_speed.py's own logic, on synthetic timings: the median's interval,
the stopping rule, the alternating timer and the table; no official code needed."""

import importlib.util
import math
import random
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def speed():
    saved_path = list(sys.path)
    spec = importlib.util.spec_from_file_location("official_speed", ROOT / "benchmarks" / "official_speed.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.path[:] = saved_path
    sys.modules.pop(spec.name, None)


def test_median_interval_uses_the_binomial_order_statistics(speed):
    assert speed.median_interval([1.0] * 5) is None  # 5 values cannot cover 95%: 1 - 2/32 < 0.95
    assert speed.median_interval([3, 1, 2, 6, 5, 4]) == (1, 6)  # n = 6: min and max (coverage 0.969)
    # n = 20: P(B <= 5) = 0.0207, P(B <= 6) = 0.0577 -> the 6th and 15th values
    assert speed.median_interval(list(range(1, 21))) == (6, 15)
    assert speed.median_interval(list(range(1, 21)), confidence=0.5) == (8, 13)


def test_median_interval_covers_the_true_median_about_95_percent_of_the_time(speed):
    rng = random.Random(0)
    trials, n = 2000, 15
    covered = 0
    for _ in range(trials):
        interval = speed.median_interval([rng.lognormvariate(0, 0.3) for _ in range(n)])
        covered += interval[0] <= 1.0 <= interval[1]  # lognormal(0, s) has median 1
    assert 0.95 <= covered / trials <= 0.99  # n = 15: the exact coverage is 0.965


def test_the_rule_waits_for_the_minimum_then_stops_once_the_interval_is_narrow(speed):
    rule = speed.StoppingRule(min_rounds=9, max_rounds=60, half_width=0.03, budget_s=1e9)
    steady = [1.0 + 0.001 * (i % 5) for i in range(9)]
    assert rule.reason_to_stop(steady[:8], 0.0) is None
    assert rule.reason_to_stop(steady, 0.0).startswith("interval")
    noisy = [0.8, 1.2] * 10
    assert rule.reason_to_stop(noisy, 0.0) is None  # +-0.2: keep going
    assert rule.reason_to_stop(noisy, 2e9).startswith("time budget")
    assert rule.reason_to_stop(noisy * 3, 0.0).startswith("round limit")


def test_noisy_timings_need_more_rounds_than_steady_ones(speed):
    rule = speed.StoppingRule(min_rounds=9, max_rounds=200, half_width=0.03, budget_s=1e9)

    def rounds_until_stop(spread):
        rng = random.Random(1)
        ratios = []
        while not rule.reason_to_stop(ratios, 0.0):
            ratios.append(rng.gauss(1.0, spread))
        return len(ratios)

    assert rounds_until_stop(0.01) == 9
    assert 9 < rounds_until_stop(0.08) < 200


def test_timer_alternates_the_order_and_pairs_each_round(speed):
    calls = []
    now = [0.0]

    def fake_run(side, ms):
        def run():
            calls.append(side)
            now[0] += ms / 1e3
        return run

    rule = speed.StoppingRule(min_rounds=4, max_rounds=4, half_width=0.03, budget_s=1e9)
    vb, off, reason = speed.time_alternately(fake_run("v", 90), fake_run("o", 100), rule, warmup=1,
                                             clock=lambda: now[0])
    assert calls == ["v", "o", "v", "o", "o", "v", "v", "o", "o", "v"]  # warm-up, then swapped every round
    assert vb == pytest.approx([90.0] * 4) and off == pytest.approx([100.0] * 4)
    assert reason == "round limit (4)"


def test_result_summary_takes_the_median_of_per_round_ratios(speed):
    result = speed.PairResult("m", "o", "1x3", 0.0, vbench_ms=[10, 20, 30], official_ms=[10, 10, 60])
    summary = result.summary()
    assert summary["ratio"] == 1.0  # ratios 1, 2, 0.5: not 20/10
    assert summary["vbench_ms"] == 20 and summary["official_ms"] == 10 and summary["runs"] == 3
    assert summary["ratio_interval"] is None


def test_table_shows_each_pair_the_load_and_the_skips(speed):
    record = {
        "date": "2026-12-02T12:00:00+00:00", "command": "python benchmarks/official_speed.py", "quick": False,
        "machine": {"cpu": "Test CPU (2 threads)", "cpu_count": 2, "torch": "2.5", "threads": 2, "git_rev": "abc", "dirty": False},
        "rule": {"min_rounds": 9, "max_rounds": 60, "half_width": 0.03, "budget_s": 240.0, "confidence": 0.95},
        "load": {"before": {"loadavg_1m": 0.5, "matmul_gmacs": 40.0}, "after": {"loadavg_1m": 0.7, "matmul_gmacs": 39.0}},
        "pairs": [{"name": "tsm_r50", "official": "TSM repo", "inputs": "1x3x8x224x224", "runs": 12,
                   "vbench_ms": 301.25, "official_ms": 310.0, "ratio": 0.972, "ratio_interval": [0.95, 0.99],
                   "cpu_share": 0.97, "max_logit_diff": 1.2e-6, "stopped": "interval within +-0.03"}],
        "skipped": [{"name": "tea_r50", "why": "no checkout of tea-action-recognition"}],
    }
    table = speed.render_markdown(record)
    assert "2026-12-02T12:00:00+00:00" in table and "Test CPU (2 threads), 2 logical CPUs" in table
    assert "load average 0.5 before, 0.7 after" in table and "40.0 GMAC/s before" in table
    row = next(line for line in table.splitlines() if line.startswith("| tsm_r50"))
    assert row == ("| tsm_r50 | TSM repo | 1x3x8x224x224 | 12 | 301.2 | 310.0 | 0.972 | 0.950 - 0.990 | 0.97 "
                   "| 1.2e-06 | interval within +-0.03 |")
    assert "- tea_r50: no checkout" in table and "Quick run" not in table
    assert "Quick run" in speed.render_markdown({**record, "quick": True})


def test_every_pair_names_a_known_repository(speed):
    assert {spec.repository for spec in speed.PAIRS} - {None} == set(speed.REPOSITORIES)
    assert len({spec.name for spec in speed.PAIRS}) == len(speed.PAIRS) == 12
    assert not math.isfinite(speed.half_width(1.0, None))


def test_official_imports_let_two_checkouts_ship_the_same_package(speed, tmp_path):
    from _official import official_imports

    for name in ("one", "two"):
        package = tmp_path / name / "ops"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "models.py").write_text(f"WHO = {name!r}\n")
    with official_imports(tmp_path / "one"):
        from ops import models as first
    with official_imports(tmp_path / "two"):
        from ops import models as second
    assert (first.WHO, second.WHO) == ("one", "two")
    assert "ops" not in sys.modules and "ops.models" not in sys.modules
    assert str((tmp_path / "two").resolve()) not in sys.path
    with pytest.raises(SystemExit, match="official checkout not found"):
        with official_imports(tmp_path / "missing"):
            pass
