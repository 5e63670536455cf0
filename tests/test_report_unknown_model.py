"""A report row takes a model's family from the catalogue it is given, and says when it cannot."""

from vbench.models.registry import model_catalogue
from vbench.reporting.comparison import ComparisonRow, _with_efficiency


def test_a_model_missing_from_the_catalogue_is_noted_in_the_row_audit():
    catalogue = model_catalogue()
    row = _with_efficiency(ComparisonRow(method="Gone", model="gone_r50"), None, None, catalogue)
    assert row.family == "" and row.audit == ["model gone_r50 is not in the model catalogue: family unknown"]
    known = _with_efficiency(ComparisonRow(method="TSM", model="tsm_r50"), None, None, catalogue)
    assert known.family == "shift" and known.audit == []
    from_record = _with_efficiency(ComparisonRow(method="TSM", model="tsm_r50"), {"family": "shift"}, None)
    assert from_record.family == "shift" and from_record.audit == []  # a profile record carries its family
