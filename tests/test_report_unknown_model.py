"""A report row of a model this vbench does not know says why its family is missing."""

from vbench.reporting.comparison import ComparisonRow, _with_efficiency


def test_a_model_unknown_to_the_registry_is_noted_in_the_row_audit():
    row = _with_efficiency(ComparisonRow(method="Gone", model="gone_r50"), None, None)
    assert row.family == "" and row.audit == ["model gone_r50 is not in this vbench's registry: family unknown"]
    known = _with_efficiency(ComparisonRow(method="TSM", model="tsm_r50"), None, None)
    assert known.family and known.audit == []
