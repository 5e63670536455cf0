"""``vbench eval --weights NAME``: the settings a published checkpoint implies, and the
published figure to set beside the measured one.

Model, frames, protocol (and the preset's changes, such as a dense interval) come from
the weights entry unless the user gave them; the file is the user's ``--checkpoint`` or
the hub cache's copy (downloaded if needed). The published top-1 is expected only where
the run's dataset and views are those the figure was reported with: a changed view
makes it another experiment, and the record says so instead of a difference.
"""

from __future__ import annotations

from dataclasses import replace

from vbench.errors import VbenchError


def apply_weights(settings):
    """(settings with the entry's defaults and the local checkpoint path, the entry)."""
    from vbench.models.weights import get_weights, weights_file

    entry = get_weights(settings.weights, model=settings.model if settings.model and "." not in settings.weights
                        else None)
    if settings.model and settings.model != entry.model:
        raise VbenchError(f"--weights {entry.name} are for model {entry.model}, not {settings.model}: drop -m")
    changes = {"model": entry.model, "dataset": settings.dataset or entry.dataset,
               "protocol": settings.protocol or entry.protocol, "frames": settings.frames or entry.frames,
               "interval": settings.interval or entry.views.get("interval")}
    if changes["protocol"] is None and settings.crop_size is None:
        changes["crop_size"] = entry.size
    changes["checkpoint"] = weights_file(entry, checkpoint=settings.checkpoint)
    return replace(settings, **changes), entry


def published_top1(entry, protocol: str | None) -> float | None:
    """The published top-1 of ``entry`` under ``protocol``, or under a preset of the same
    views (``kinetics-10x3`` is ``tsm-dense-10x3``); None: not published."""
    from vbench.data.views import VIEW_PRESETS

    if protocol is None:  # no vbench preset replicates the published protocol
        return None
    results = entry.results
    if protocol in results or protocol not in VIEW_PRESETS:
        return results.get(protocol)
    same = [top1 for name, top1 in results.items()
            if name in VIEW_PRESETS and VIEW_PRESETS[name].spec == VIEW_PRESETS[protocol].spec]
    return same[0] if same else None


def expected_fields(entry, settings, views) -> dict:
    """``expected_top1`` (None where the run differs from the published setting) and why."""
    from vbench.data import resolve_views

    fields = {"weights_name": entry.name, "expected_source": entry.source, "expected_top1": None,
              "expected_note": None}
    published = published_top1(entry, settings.protocol)
    if settings.protocol is None:
        fields["expected_note"] = (f"no vbench preset replicates the protocol of {entry.name}'s published top-1 "
                                   f"({entry.top1}): {entry.notes or 'see its source'}")
        return fields
    if published is None:
        fields["expected_note"] = f"{entry.source} publishes no top-1 for {entry.name} under this protocol"
        return fields
    if settings.dataset != entry.dataset:
        fields["expected_note"] = f"published on {entry.dataset}, not {settings.dataset}"
        return fields
    reference = resolve_views(settings.protocol, frames=entry.frames, interval=entry.views.get("interval"))
    if views != reference:
        fields["expected_note"] = (f"the views differ from the published {settings.protocol} "
                                   f"({reference.describe()})")
        return fields
    fields["expected_top1"] = published
    return fields


def difference(top1: float | None, expected: float | None) -> float | None:
    return None if top1 is None or expected is None else round(top1 - expected, 4)
