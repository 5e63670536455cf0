"""Test views: how many clips and crops a video gives, and the papers' named protocols.

A view is one clip (T frames) under one spatial crop; a video gives ``clips x crops``
views and its score is their fusion. ``ViewSpec`` says all of it; ``VIEW_PRESETS`` name
the protocols papers test with, each with its source, so a result record can say
"tsm-2x3" and mean exactly one thing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from vbench.data.sampling import SAMPLINGS
from vbench.data.transforms import RESIZES, THREE_CROPS
from vbench.errors import VbenchError

CROPS = (1, 3, 5, 10)
FUSIONS = ("mean-logits", "mean-softmax")


@dataclass(frozen=True)
class ViewSpec:
    """Frames, clips and crops of each video, and the spatial sizes.

    ``short_side``: frames are resized so their short side is this, keeping the aspect
    ratio; ``crop_size``: square crops of this side (equal to ``short_side`` for
    "full-resolution" testing). ``crops``: 1 centre, 3 along the long side (left,
    right, centre), 5 corners + centre, 10 = those 5 and their mirror images.
    ``interval``: frame step of a dense clip (None: TSM's ``64 // frames``).
    ``dense_span``: the window dense clips are placed in (``linspace(0, n - span, clips)``);
    None: the frames a clip covers, ``frames * interval`` (vbench's rule); TSM's test
    code always uses 64.
    ``three_crop``: "long-side" (vbench: 3 crops step along the long side, so portrait
    video is covered) or "width" (TSM's GroupFullResSample: always along the width, so
    portrait video gives 3 identical crops). The two agree on landscape video.
    "mmaction2": its ThreeCrop, steps of ``(long - crop) // 2``.
    ``resize``: "pil" (antialiased, long side truncated: TSN/TSM's GroupScale) or "mmcv"
    (mmaction2's Resize: long side rounded, bilinear without antialiasing).
    ``fusion``: how view scores become a video score, part of the protocol.
    """

    frames: int = 8
    clips: int = 1
    crops: int = 1
    short_side: int = 256
    crop_size: int = 224
    sampling: str = "segment"
    interval: int | None = None
    fusion: str = "mean-logits"
    dense_span: int | None = None
    three_crop: str = "long-side"
    resize: str = "pil"

    def __post_init__(self) -> None:
        if self.frames < 1 or self.clips < 1:
            raise VbenchError(f"views need at least 1 frame and 1 clip (got {self.frames} frames, {self.clips} clips)")
        if self.crops not in CROPS:
            raise VbenchError(f"crops must be one of {', '.join(map(str, CROPS))}, not {self.crops}")
        if self.sampling not in SAMPLINGS:
            raise VbenchError(f"unknown sampling '{self.sampling}'; choose one of {', '.join(SAMPLINGS)}")
        if not 0 < self.crop_size <= self.short_side:
            raise VbenchError(f"crop size {self.crop_size} must be positive and at most the short side "
                              f"{self.short_side}")
        if self.interval is not None and self.interval < 1:
            raise VbenchError(f"dense interval must be at least 1, not {self.interval}")
        if self.dense_span is not None and self.dense_span < 1:
            raise VbenchError(f"dense span must be at least 1 frame, not {self.dense_span}")
        if self.three_crop not in THREE_CROPS:
            raise VbenchError(f"unknown three_crop '{self.three_crop}'; choose one of {', '.join(THREE_CROPS)}")
        if self.resize not in RESIZES:
            raise VbenchError(f"unknown resize '{self.resize}'; choose one of {', '.join(RESIZES)}")
        if self.fusion not in FUSIONS:
            raise VbenchError(f"unknown fusion '{self.fusion}'; choose one of {', '.join(FUSIONS)}")

    @property
    def views(self) -> int:
        return self.clips * self.crops

    @property
    def frame_interval(self) -> int:
        return self.interval if self.interval is not None else max(1, 64 // self.frames)

    def replace(self, **changes: Any) -> ViewSpec:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        three = {"width": "3 crops along the width (TSM)", "long-side": "3 crops along the long side",
                 "mmaction2": "3 crops (mmaction2 ThreeCrop)"}[self.three_crop]
        crops = {1: "centre crop", 3: three, 5: "5 crops", 10: "10 crops"}[self.crops]
        span = f", starts within n - {self.dense_span}" if self.dense_span else ""
        dense = {"segment": "", "dense": f" (dense, every {self.frame_interval}{span})",
                 "mmaction2-dense": f" (mmaction2 dense, every {self.frame_interval})"}[self.sampling]
        resize = ", mmcv resize" if self.resize == "mmcv" else ""
        return (f"{self.frames} frames{dense} x {self.clips} clip{'s' if self.clips > 1 else ''} x {crops} "
                f"{self.crop_size}px after short side {self.short_side}{resize}, {self.fusion}")


@dataclass(frozen=True)
class ViewPreset:
    name: str
    spec: ViewSpec
    description: str
    source: str


_TSM_TEST = "mit-han-lab/temporal-shift-module test_models.py and README"
_MMACTION2 = "open-mmlab/mmaction2 v1.2.0 configs/recognition"
_TSM_DENSE = ViewSpec(frames=8, clips=10, crops=3, short_side=256, crop_size=256, sampling="dense", dense_span=64,
                      three_crop="width")
VIEW_PRESETS: dict[str, ViewPreset] = {p.name: p for p in (
    ViewPreset("1x1", ViewSpec(), "1 clip x 1 centre crop: the efficient setting of most papers",
               "TSM README 'center crop * 1clip'; TSN/TSM/TEA single-view results"),
    ViewPreset("tsm-sthv1", ViewSpec(frames=8, clips=1, crops=1, short_side=256, crop_size=224),
               "Something-Something V1, 8 segment frames, 1 clip, centre 224 crop of the 256 short side",
               f"{_TSM_TEST}: --test_segments 8 --test_crops 1 (GroupScale 256, GroupCenterCrop 224)"),
    ViewPreset("tsm-2x3", ViewSpec(frames=8, clips=2, crops=3, short_side=256, crop_size=256, three_crop="width"),
               "full-resolution 2 clips x 3 crops: segment centres and segment starts, 256x256 crops at "
               "left, right and centre along the width as TSM does (on portrait video: 3 identical crops) "
               "(TSM's 'accurate' Something-Something setting)",
               f"{_TSM_TEST}: --twice_sample --full_res --test_crops 3 (GroupFullResSample)"),
    ViewPreset("tsm-1x10", ViewSpec(frames=8, clips=1, crops=10, short_side=256, crop_size=224),
               "1 clip x 10 crops (4 corners + centre, and their mirrors) at 224 of the 256 short side",
               f"{_TSM_TEST}: --test_crops 10 (Kinetics uniform-sampling '10-crop' column)"),
    ViewPreset("tsm-dense-10x3", _TSM_DENSE,
               "Kinetics '30 views' as TSM's test code: 10 dense clips (T frames every 64 // T-th) with starts "
               "spread over the first n - 64 frames whatever T is, x 3 full-resolution 256x256 crops along the "
               "width (on portrait video: 3 identical crops)",
               f"{_TSM_TEST}: --dense_sample --full_res --test_crops 3 (ops/dataset.py _get_test_indices, "
               "GroupFullResSample; the non-local I3D protocol)"),
    ViewPreset("kinetics-10x3", _TSM_DENSE, "alias of tsm-dense-10x3 (TSM's dense sampling, not mmaction2's)",
               f"{_TSM_TEST}: --dense_sample --full_res --test_crops 3"),
    ViewPreset("vbench-dense-10x3", ViewSpec(frames=8, clips=10, crops=3, short_side=256, crop_size=256,
                                             sampling="dense"),
               "10 dense clips whose starts are spread over the first n - T * interval frames x 3 256x256 "
               "crops along the long side (portrait video covered): vbench's rule, equal to tsm-dense-10x3 "
               "on landscape video at 8, 16, 32 or 64 frames",
               "vbench (TSM's dense protocol generalised to any T and to portrait video)"),
    ViewPreset("tsn-25x10", ViewSpec(frames=25, clips=1, crops=10, short_side=256, crop_size=224),
               "original TSN test: 25 evenly spaced frames x 10 crops at 224 of the 256 short side",
               "yjxiong/tsn-pytorch test_models.py (test_segments 25, 10-crop oversampling)"),
    ViewPreset("mmaction2-tsn-25x10", ViewSpec(frames=25, crops=10, short_side=256, crop_size=224, resize="mmcv",
                                               fusion="mean-softmax"),
               "mmaction2's TSN test: 25 segment frames x TenCrop 224 after Resize(-1, 256), mean of softmax",
               f"{_MMACTION2}/tsn/tsn_imagenet-pretrained-r50_8xb32-1x1x3-100e_kinetics400-rgb.py test_pipeline"),
    ViewPreset("mmaction2-tsm-1x10", ViewSpec(frames=8, crops=10, short_side=256, crop_size=224, resize="mmcv",
                                              fusion="mean-softmax"),
               "mmaction2's TSM Kinetics test: 8 segment frames x TenCrop 224 after Resize(-1, 256), mean of softmax",
               f"{_MMACTION2}/tsm/tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_kinetics400-rgb.py test_pipeline"),
    ViewPreset("mmaction2-tsm-2x3", ViewSpec(frames=8, clips=2, crops=3, short_side=256, crop_size=256,
                                             three_crop="mmaction2", resize="mmcv", fusion="mean-softmax"),
               "mmaction2's TSM Something-Something V2 test: twice-sampled 8 segment frames x ThreeCrop 256 after "
               "Resize(-1, 256), mean of softmax",
               f"{_MMACTION2}/tsm/tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_sthv2-rgb.py test_pipeline"),
    ViewPreset("mmaction2-10x3", ViewSpec(frames=32, clips=10, crops=3, short_side=256, crop_size=256,
                                          sampling="mmaction2-dense", interval=2, three_crop="mmaction2",
                                          resize="mmcv", fusion="mean-softmax"),
               "mmaction2's 3D test (R(2+1)D-34 32x2x1): 10 clips of 32 frames every 2nd, starts rounded over "
               "n - 63 frames, x ThreeCrop 256 after Resize(-1, 256), mean of softmax",
               f"{_MMACTION2}/r2plus1d/r2plus1d_r34_8xb8-32x2x1-180e_kinetics400-rgb.py test_pipeline "
               "(SampleFrames test mode, loading.py)"),
    ViewPreset("torchvision-5x1", ViewSpec(frames=16, clips=5, crops=1, short_side=128, crop_size=112,
                                           sampling="dense", interval=1),
               "5 clips of 16 consecutive frames spread over the video x 1 centre 112 crop of the 128 short side "
               "(torchvision resizes to 128x171); torchvision takes its clips at 15 fps, vbench at the video's rate",
               "torchvision models/video/resnet.py weights metadata (clip_len 16, clips_per_video 5, frame_rate 15) "
               "and references/video_classification presets (resize 128x171, crop 112)"),
    ViewPreset("vmz-10x1", ViewSpec(frames=32, clips=10, crops=1, short_side=128, crop_size=112, sampling="dense",
                                    interval=1),
               "10 clips of consecutive frames spread over the video x 1 centre 112 crop of the 128 short side "
               "(video accuracy = mean of the 10 clips)",
               "facebookresearch/VMZ c2/tutorials/models.md ('average of 10 clips'); its PyTorch transforms resize "
               "to 128x171 and centre-crop 112"),
)}


def view_preset(name: str) -> ViewPreset:
    if name not in VIEW_PRESETS:
        import difflib

        close = difflib.get_close_matches(name, list(VIEW_PRESETS), n=3, cutoff=0.4)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise VbenchError(f"unknown view preset '{name}'.{hint} Known: {', '.join(VIEW_PRESETS)}")
    return VIEW_PRESETS[name]


def resolve_views(views: ViewSpec | str | None, **changes: Any) -> ViewSpec:
    """A ViewSpec from a spec, a preset name or None (``1x1``), with non-None changes applied."""
    if views is None:
        spec = ViewSpec()
    elif isinstance(views, str):
        spec = view_preset(views).spec
    else:
        spec = views
    return spec.replace(**changes)
