import dataclasses

import pytest

import vbench
from vbench.profiling.fidelity import cost_record
from vbench.reporting.reported import (
    PRINTED, Audit, compare, printed_tolerance, reported_table, rows_for, validate_row,
)

CHECKED = [row for row in reported_table() if row.checked]
FIGURE_CHECKS = [(row, q) for row in CHECKED for q in ("params_m", "gflops") if row.value(q) is not None]
PRINTED_CHECKS = [(row, q) for row, q in FIGURE_CHECKS if row.printed(q)]
UNPRINTED_CHECKS = [(row, q) for row, q in FIGURE_CHECKS if not row.printed(q)]


def _id(check) -> str:
    row, quantity = check
    return f"{row.status_of(quantity)}-{row.key}-{row.frames}f-{row.input_size}-{quantity}-{row.file}:{row.line}"


def test_reported_table_schema_is_valid():
    problems = [p for row in reported_table() for p in validate_row(row)]
    assert problems == []


def test_every_registered_model_has_a_reported_row():
    missing = [name for name in vbench.list_models() if not rows_for(vbench.model_info(name).reported_key)]
    assert missing == []


def test_every_checked_row_names_a_registered_model_and_prints_a_figure():
    assert CHECKED and all(row.key in vbench.list_models(aliases=True) for row in CHECKED)
    assert all(row.value("params_m") is not None or row.value("gflops") is not None for row in CHECKED)


def test_printed_tolerance_is_one_percent_or_the_printed_rounding():
    assert printed_tolerance("33") == 0.5
    assert printed_tolerance("65") == pytest.approx(0.65)
    assert printed_tolerance("24.3") == pytest.approx(0.243)
    assert printed_tolerance("0.00047") == pytest.approx(0.000005)


def test_figure_status_overrides_the_row_status_per_figure():
    tsm16 = next(r for r in rows_for("tsm_r50") if r.frames == "16" and r.checked)
    assert tsm16.status_of("top1") == "secondary" and tsm16.status_of("params_m") == "secondary"
    assert tsm16.status_of("gflops") == "unverified" and tsm16.status_of("top5") == "unverified"
    assert tsm16.printed("params_m") and not tsm16.printed("gflops")
    bad = dataclasses.replace(tsm16, figure_status="gflops=recalled; speed=derived")
    assert len(validate_row(bad)) == 2


def test_recalled_or_doubled_figures_are_not_marked_as_printed():
    """A note that says a figure was recalled or computed must not sit beside a verified status."""
    for row in reported_table():
        shown = [f for f in ("params_m", "gflops", "top1", "top5") if row.value(f) is not None]
        if "recalled" in row.note.lower():
            assert not any(row.printed(f) for f in shown), f"{row.file}:{row.line}"
    derived = {(r.key, r.frames, r.gflops) for r in reported_table() if r.status_of("gflops") == "derived"}
    assert {("tea_r50", "16", "70"), ("tada2d_r50", "16", "86"), ("stsm_r50", "8", "33")} <= derived


def test_unstated_convention_passes_on_any_convention_and_lists_all_three():
    row = next(r for r in rows_for("tea_r50") if r.checked and r.frames == "8")
    assert row.flops_counting == "unstated"
    each = {"macs": 34.70, "macs-no-bn": 34.49, "conv-fc": 34.46}
    audit = Audit(row, "gflops", 35.0, 34.70, printed_tolerance("35"), each)
    assert audit.ok
    line = audit.describe()
    assert "convention not stated" in line and all(name in line for name in each)
    assert "gflops vs 35 (unverified)" in line
    off = Audit(row, "gflops", 35.0, 34.46, printed_tolerance("35"), {"macs-no-bn": 34.49, "conv-fc": 34.46})
    assert not off.ok  # 0.51 and 0.54 from 35 are both beyond half a printed unit


def _assert_audits(row, quantity):
    audits = compare(row, cost_record(**row.setting), quantities=(quantity,))
    assert [a.quantity for a in audits] == [quantity]
    for audit in audits:
        if quantity == "gflops" and row.flops_counting == "unstated":
            assert set(audit.by_convention) == {"macs", "macs-no-bn", "conv-fc"}
        assert audit.ok, (f"{row.key} {audit.describe()} (tolerance {audit.tolerance:.4f}, "
                          f"{row.source}, {row.table})")


@pytest.mark.slow
@pytest.mark.parametrize("check", PRINTED_CHECKS, ids=[_id(c) for c in PRINTED_CHECKS])
def test_model_matches_its_printed_figures(check):
    """Verified or secondary figures: the model is checked against print."""
    assert check[0].status_of(check[1]) in PRINTED
    _assert_audits(*check)


@pytest.mark.slow
@pytest.mark.parametrize("check", UNPRINTED_CHECKS, ids=[_id(c) for c in UNPRINTED_CHECKS])
def test_model_against_unverified_or_derived_figures(check):
    """Same comparison and tolerance, but the figure was not read in print: its id says unverified or derived."""
    assert check[0].status_of(check[1]) in ("unverified", "derived")
    _assert_audits(*check)


def test_compare_reads_a_record_in_the_rows_units_and_convention():
    base = next(r for r in reported_table() if r.checked and r.value("params_m") and r.value("gflops"))
    record = {"params_m": 25.0, "gflops": 33.0, "gflops_without_bn": 32.8,
              "gflops_by_op": {"conv": 32.5, "linear": 0.002, "batch_norm": 0.2}}
    decimal = dataclasses.replace(base, params_m="25.0", gflops="33", units="decimal", flops_counting="macs")
    params, gflops = compare(decimal, record)
    assert (params.measured, gflops.measured, gflops.by_convention) == (25.0, 33.0, None) and params.ok
    binary = dataclasses.replace(decimal, params_m="23.8", gflops="30.7", units="binary")
    params, gflops = compare(binary, record)
    assert params.measured == pytest.approx(25e6 / 2 ** 20) and gflops.measured == pytest.approx(33e9 / 2 ** 30)
    assert params.ok and gflops.ok
    conv_fc = dataclasses.replace(decimal, gflops="32.5", flops_counting="conv-fc")
    assert compare(conv_fc, record, quantities=("gflops",))[0].measured == pytest.approx(32.502)
    unstated = dataclasses.replace(decimal, gflops="32.8", flops_counting="unstated")
    audit = compare(unstated, record, quantities=("gflops",))[0]
    assert audit.measured == 32.8 and set(audit.by_convention) == {"macs", "macs-no-bn", "conv-fc"} and audit.ok
    assert compare(decimal, {"params_m": 25.0})[0].quantity == "params_m"  # no FLOPs measured: no GFLOPs audit
    assert len(compare(decimal, {"params_m": 25.0})) == 1
    off = dataclasses.replace(decimal, params_m="26.0")
    assert not compare(off, record, quantities=("params_m",))[0].ok
