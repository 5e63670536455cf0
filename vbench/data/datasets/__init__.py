"""One module a dataset; each registers itself with ``@register_dataset`` (imported on first use)."""
