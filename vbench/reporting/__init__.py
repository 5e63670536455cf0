"""Reporting: the reported-numbers table, comparison tables and charts (never runs a model)."""
