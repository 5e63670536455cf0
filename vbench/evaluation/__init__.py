"""Evaluation: multi-view classification metrics, re-id metrics, distributed gathering."""
