import pytest

import vbench
from vbench.reporting.reported import audit_row, printed_tolerance, reported_table, rows_for, validate_row

CHECKED = [row for row in reported_table() if row.checked]


def test_reported_table_schema_is_valid():
    problems = [p for row in reported_table() for p in validate_row(row)]
    assert problems == []


def test_every_registered_model_has_a_reported_row():
    missing = [name for name in vbench.list_models() if not rows_for(vbench.model_info(name).reported_key)]
    assert missing == []


def test_every_checked_row_names_a_registered_model():
    assert CHECKED and all(row.key in vbench.list_models(aliases=True) for row in CHECKED)


def test_printed_tolerance_is_one_percent_or_the_printed_rounding():
    assert printed_tolerance("33") == 0.5
    assert printed_tolerance("65") == pytest.approx(0.65)
    assert printed_tolerance("24.3") == pytest.approx(0.243)
    assert printed_tolerance("0.00047") == pytest.approx(0.000005)


@pytest.mark.slow
@pytest.mark.parametrize("row", CHECKED, ids=[f"{r.key}-{r.frames}f-{r.input_size}-{r.file}:{r.line}" for r in CHECKED])
def test_model_matches_its_paper_figures(row):
    audits = audit_row(row)
    assert audits, "a checked row must print params or GFLOPs"
    for audit in audits:
        assert audit.ok, (f"{row.key} {audit.quantity}: measured {audit.measured:.4f}, reported {audit.reported} "
                          f"(tolerance {audit.tolerance:.4f}, {row.source}, {row.table})")
