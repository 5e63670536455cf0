"""One comparison table from measured records and the papers' figures.

Rows come from three places, and every cell says which:

- profile records (``profile.json``): params, GFLOPs per view, latency and throughput
  measured by vbench on one device;
- eval records (``eval.json``): accuracy measured by vbench;
- the reported-numbers table: the papers' own params, GFLOPs and accuracy.

With a dataset, a row is one accuracy figure (measured, or reported by a paper) with the
efficiency of the same model and setting beside it (measured where vbench profiled that
setting, reported otherwise). Without a dataset, a row is one profiled setting. The audit
compares each measured params/GFLOPs figure with the paper's at the same setting.

Every figure carries a status (``*_status``): ``measured`` by vbench, or the reported
table's status of that figure (verified, secondary, unverified, derived). Efficiency is
matched on the class count too (a 400-class record's params are not a 174-class model's),
and eval records of randomly initialised models are never shown as a model's accuracy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from vbench.reporting.reported import ReportedRow, compare, reported_table

# vbench's dataset names and the short names the reported table uses.
DATASET_CODES = {
    "sthv1": "SSv1", "sthv2": "SSv2", "kinetics400": "K400", "kinetics600": "K600", "kinetics700": "K700",
    "ucf101": "UCF101", "hmdb51": "HMDB51", "jester": "Jester", "diving48": "Diving48", "mars": "MARS",
    "ilidsvid": "iLIDS-VID", "prid2011": "PRID-2011", "imagenet": "ImageNet", "synthetic": "synthetic",
}
# The class count a dataset code implies (a reported row's own num_classes wins). Datasets
# whose training-identity count vbench has not pinned down are left out: matched on any count.
DATASET_CLASSES = {
    "SSv1": 174, "SSv2": 174, "K400": 400, "K600": 600, "K700": 700, "UCF101": 101, "HMDB51": 51, "Jester": 27,
    "Diving48": 48, "MARS": 625, "ImageNet": 1000, "Mini-K200": 200, "Sports-1M": 487,
}


def _run_label(record: dict) -> str:
    """The method, and for a train record its DREAL flag and seed: runs of one model with
    several seeds, plain and DREAL, must stay told apart in the table."""
    label = record.get("method", record["model"])
    if record.get("dreal"):
        label += " + DREAL"
    if "recipe" in record and "seed" in record:  # a train record
        label += f", seed {record['seed']}"
    return label


def dataset_code(name: str | None) -> str | None:
    """The reported table's name of a dataset, from either form (``sthv1`` or ``SSv1``)."""
    if name is None:
        return None
    lowered = {k.lower(): v for k, v in DATASET_CODES.items()} | {v.lower(): v for v in DATASET_CODES.values()}
    return lowered.get(name.lower(), name)


@dataclass
class ComparisonRow:
    method: str
    model: str | None
    backbone: str = ""
    pretrain: str = ""
    frames: int | None = None
    size: str = ""
    views: str = ""
    params_m: float | None = None
    num_classes: int | None = None  # of the efficiency figures' model
    params_source: str | None = None  # "measured" | "reported"
    params_status: str | None = None  # "measured" | verified | secondary | unverified | derived
    gflops: float | None = None  # per view
    gflops_source: str | None = None
    gflops_status: str | None = None
    latency_ms: float | None = None
    latency_iqr_ms: float | None = None
    throughput: float | None = None
    batch_size: int | None = None
    device: str | None = None
    dataset: str | None = None
    top1: float | None = None
    top5: float | None = None
    map: float | None = None
    rank1: float | None = None
    accuracy_source: str | None = None  # "measured" | "reported"
    top1_status: str | None = None
    top5_status: str | None = None
    map_status: str | None = None
    rank1_status: str | None = None
    expected_top1: float | None = None  # the published top-1 of the evaluated official weights
    top1_diff: float | None = None  # measured - published
    source: str = ""
    family: str = ""
    reconstruction: bool = False
    user_model: bool = False  # registered from a plugin or a user's code, not vbench's zoo
    audit: list[str] = field(default_factory=list)
    flagged: bool = False
    latency_stable: bool | None = None  # False: the latency broke the stability rule, even re-measured
    dirty: bool = False  # a measured figure comes from a source tree with uncommitted changes
    legacy: bool = False  # a measured figure comes from a record made before fingerprints

    def status(self, figure: str) -> str | None:
        """The status of a shown figure ("params_m", "gflops", "top1"...); None when it is not shown."""
        if getattr(self, figure) is None:
            return None
        return getattr(self, f"{figure.removesuffix('_m')}_status")

    @property
    def num_views(self) -> int | None:
        try:
            clips, crops = (int(v) for v in self.views.split("x"))
            return clips * crops
        except (ValueError, AttributeError):
            return None


def _number(text: str) -> float | None:
    return float(text) if text not in ("", "-", None) else None


def audit_record(record: dict, rows: tuple[ReportedRow, ...] | None = None) -> tuple[list[str], bool]:
    """Differences between a profile record and the paper figures at its setting.

    Returns lines like ``params +0.1% vs 24.3 (secondary, check) [TSM paper, ...]`` and
    whether any figure is off by more than the tolerance (1%, or the printed rounding when
    larger). Where the source does not state its GFLOPs convention, the line gives the
    measured figure under each one and passes when any one is within tolerance.
    """
    rows = reported_table() if rows is None else rows
    lines, flagged = [], False
    for row in rows:
        if row.key != record.get("model") or not (row.params_m or row.gflops):
            continue
        if row.frames and record.get("frames") and int(row.frames) != record["frames"]:
            continue
        if row.input_size and row.input_size != record.get("size"):
            continue
        if row.num_classes and int(row.num_classes) != record.get("num_classes"):
            continue
        for quantity, figure in (("params", "params_m"), ("GFLOPs", "gflops")):
            line, off = _audit_line(record, row, quantity, figure)
            if line:
                lines.append(line)
                flagged |= off
    return lines, flagged


def _audit_line(record: dict, row: ReportedRow, quantity: str, figure: str) -> tuple[str | None, bool]:
    """One audit line for one printed figure (None when not printed or not measured)."""
    audits = compare(row, record, quantities=(figure,))
    if not audits:
        return None, False
    audit = audits[0]
    printed = getattr(row, figure)
    tags = f"({row.status_of(figure)}{', check' if row.checked else ''}){'' if audit.ok else ' OFF'}"
    where = f" [{row.source}, {row.table}]"
    if not audit.by_convention:
        return f"{quantity} {100 * audit.relative:+.1f}% vs {printed} {tags}{where}", not audit.ok
    each = ", ".join(f"{name} {100 * (value - audit.reported) / audit.reported:+.1f}%"
                     for name, value in audit.by_convention.items())
    return f"{quantity} vs {printed} {tags}, convention not stated: {each}{where}", not audit.ok


def _profile_index(profile_records: list[dict]) -> dict[tuple, dict]:
    """The batch-1 record of every (model, frames, size, classes), plus the largest batch's throughput."""
    best: dict[tuple, dict] = {}
    for record in profile_records:
        if record.get("status") != "ok":
            continue
        key = (record["model"], record.get("frames"), record.get("size"), record.get("num_classes"))
        held = best.get(key)
        if held is None or record["batch_size"] < held["batch_size"]:
            best[key] = dict(record, _max_throughput=(held or {}).get("_max_throughput"))
        current = best[key]
        if record.get("throughput") is not None:
            top = current.get("_max_throughput")
            if top is None or record["throughput"] > top[0]:
                current["_max_throughput"] = (record["throughput"], record["batch_size"])
    return best


def _profiled(index: dict[tuple, dict], model: str | None, frames, size, classes: int | None) -> dict | None:
    """The profile record of a setting at the given class count; any count only when it is unknown."""
    if not model:
        return None
    if classes is not None:
        return index.get((model, frames, size, classes))
    return next((r for (m, f, s, _), r in index.items() if (m, f, s) == (model, frames, size)), None)


def _classes(row: ReportedRow, code: str | None) -> int | None:
    """A reported row's class count: its own, else the one its dataset implies."""
    return int(row.num_classes) if row.num_classes else DATASET_CLASSES.get(code or "")


def is_random_weights(record: dict) -> bool:
    """An eval record of a randomly initialised model: its accuracy is not the model's."""
    return record.get("weights") == "random"


def random_weight_records(eval_records: list[dict] | None, dataset: str | None,
                          models: list[str] | None = None) -> int:
    """How many eval records of the dataset (and models) a report leaves out for random weights."""
    code = dataset_code(dataset)
    return sum(1 for r in eval_records or [] if is_random_weights(r) and dataset_code(r.get("dataset")) == code
               and (not models or r.get("model") in models))


def _with_efficiency(row: ComparisonRow, record: dict | None, reported: ReportedRow | None,
                     catalogue: Mapping[str, dict] | None = None) -> ComparisonRow:
    if record is not None:
        row.params_m, row.params_source, row.params_status = record.get("params_m"), "measured", "measured"
        row.gflops, row.gflops_source, row.gflops_status = record.get("gflops"), "measured", "measured"
        row.num_classes = record.get("num_classes")
        row.latency_ms, row.latency_iqr_ms = record.get("latency_ms"), record.get("latency_iqr_ms")
        row.latency_stable = record.get("latency_stable")
        row.dirty = row.dirty or bool(record.get("dirty"))
        row.legacy = row.legacy or bool(record.get("legacy"))
        throughput = record.get("_max_throughput")
        if throughput:
            row.throughput, row.batch_size = throughput
        row.device = record.get("device_name") or record.get("device")
        row.audit, row.flagged = audit_record(record)
        row.reconstruction = bool(record.get("reconstruction"))
        row.user_model = row.user_model or record.get("model_source") == "user"
    elif reported is not None:
        row.num_classes = int(reported.num_classes) if reported.num_classes else row.num_classes
        if _number(reported.params_m) is not None:
            row.params_m, row.params_source = _number(reported.params_m), "reported"
            row.params_status = reported.status_of("params_m")
        if _number(reported.gflops) is not None:
            row.gflops, row.gflops_source = _number(reported.gflops), "reported"
            row.gflops_status = reported.status_of("gflops")
    if row.model:
        facts = (catalogue or {}).get(row.model)
        if facts is not None:
            row.family, row.reconstruction = facts["family"], row.reconstruction or facts["reconstruction"]
        elif record is not None and record.get("family"):
            row.family = record["family"]
        elif catalogue is not None:  # a model of records made by another vbench version
            row.audit.append(f"model {row.model} is not in the model catalogue: family unknown")
    return row


def build_comparison(
    profile_records: list[dict],
    eval_records: list[dict] | None = None,
    *,
    dataset: str | None = None,
    models: list[str] | None = None,
    include_reported: bool = True,
    catalogue: Mapping[str, dict] | None = None,
) -> list[ComparisonRow]:
    """The comparison rows (see module docstring); ``models`` filters by vbench name;
    ``catalogue`` (``vbench.models.registry.model_catalogue()``) gives each model's family and
    reconstruction flag where no record carries them."""
    index = _profile_index(profile_records)
    wanted = set(models) if models else None
    rows: list[ComparisonRow] = []
    if dataset is None:
        for (model, frames, size, _), record in index.items():
            if wanted and model not in wanted:
                continue
            row = ComparisonRow(method=record.get("method", model), model=model, frames=frames, size=size,
                                views="", backbone=f"ResNet-{record['depth']}" if record.get("depth") else "")
            rows.append(_with_efficiency(row, record, None, catalogue))
        return rows
    code = dataset_code(dataset)
    for record in eval_records or []:
        if dataset_code(record.get("dataset")) != code or record.get("status", "ok") != "ok":
            continue
        if (wanted and record["model"] not in wanted) or is_random_weights(record):
            continue
        classes = record.get("num_classes") or DATASET_CLASSES.get(code)
        profiled = _profiled(index, record["model"], record.get("frames"), record.get("size"), classes)
        row = ComparisonRow(method=_run_label(record), model=record["model"],
                            frames=record.get("frames"), size=record.get("size", ""), views=record.get("views", ""),
                            dataset=code, top1=record.get("top1"), top5=record.get("top5"), map=record.get("map"),
                            rank1=record.get("rank1"), accuracy_source="measured", num_classes=classes,
                            dirty=bool(record.get("dirty")), legacy=bool(record.get("legacy")),
                            user_model=record.get("model_source") == "user",
                            **{f"{f}_status": "measured" for f in ("top1", "top5", "map", "rank1")},
                            source=f"vbench eval ({record.get('videos')} videos, {record.get('protocol') or 'views'})",
                            expected_top1=record.get("expected_top1"), top1_diff=record.get("top1_diff"))
        row = _with_efficiency(row, profiled, None, catalogue)
        if row.expected_top1 is not None:
            row.audit.append(f"{record.get('weights_name')}: published top-1 {row.expected_top1:.2f}, measured "
                             f"{row.top1_diff:+.2f} [{record.get('expected_source')}]")
        rows.append(row)
    if include_reported:
        table = reported_table()
        for rep in table:
            if rep.dataset != code or all(_number(v) is None for v in (rep.top1, rep.map, rep.rank1)):
                continue
            if wanted and rep.key not in wanted:
                continue
            frames = int(rep.frames) if rep.frames else None
            classes = _classes(rep, code)
            profiled = _profiled(index, rep.key, frames, rep.input_size, classes)
            efficiency = rep if _number(rep.params_m) or _number(rep.gflops) else _paper_costs(table, rep, classes)
            row = ComparisonRow(method=rep.method, model=rep.key or None, backbone=rep.backbone,
                                pretrain=rep.pretrain, frames=frames, num_classes=classes,
                                size=rep.input_size, views=rep.views if rep.views != "-" else "", dataset=code,
                                top1=_number(rep.top1), top5=_number(rep.top5), map=_number(rep.map),
                                rank1=_number(rep.rank1), accuracy_source="reported",
                                source=f"{rep.source}, {rep.table}", reconstruction=rep.reconstruction == "yes",
                                **{f"{f}_status": rep.status_of(f) for f in ("top1", "top5", "map", "rank1")
                                   if _number(getattr(rep, f)) is not None})
            rows.append(_with_efficiency(row, profiled, efficiency, catalogue))
    return rows


def _paper_costs(table: tuple[ReportedRow, ...], accuracy_row: ReportedRow, classes: int | None) -> ReportedRow | None:
    """A paper's params/GFLOPs row for the same model, frames, input size and classes as an accuracy-only row."""
    for rep in table:
        if (rep.key and rep.key == accuracy_row.key and (rep.params_m or rep.gflops)
                and rep.frames == accuracy_row.frames and rep.input_size == accuracy_row.input_size
                and (classes is None or not rep.num_classes or int(rep.num_classes) == classes)):
            return rep
    return None


SORT_KEYS = ("gflops", "params", "latency", "top1", "method")


def sort_rows(rows: list[ComparisonRow], by: str = "gflops") -> list[ComparisonRow]:
    if by not in SORT_KEYS:
        from vbench.errors import VbenchError

        raise VbenchError(f"cannot sort by '{by}': use one of {', '.join(SORT_KEYS)}")
    attribute = {"params": "params_m", "latency": "latency_ms"}.get(by, by)
    if by == "method":
        return sorted(rows, key=lambda r: (r.method.lower(), r.frames or 0))
    missing = [r for r in rows if getattr(r, attribute) is None]
    present = [r for r in rows if getattr(r, attribute) is not None]
    return sorted(present, key=lambda r: getattr(r, attribute), reverse=by == "top1") + missing
