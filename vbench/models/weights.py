"""The official checkpoints of the zoo's methods, by name (like torchvision's weights enums).

Each ``Weights`` entry says where a method's official repository publishes a checkpoint
(``url`` exactly as its README or code gives it), what it was trained on, the input it
takes, the test views (``protocol``, a vbench view preset) its accuracy was reported
with, that accuracy (``top1``) and the file that states it (``source``). ``auto`` is
False where the host is a drive page that plain HTTP cannot download (Google Drive,
Baidu, Jianguo Cloud): the user downloads ``filename`` from ``page`` and passes
``--checkpoint PATH``. Figures and URLs were read in the named files; where a README
states none, ``top1`` is None and ``notes`` says so.

Names read ``<model>.<tag>``: ``tsm_r50.k400_8f``. ``vbench.create_model(model,
weights=tag)`` builds the model for the entry and loads the file through the model's
own checkpoint converter; ``vbench eval --weights NAME`` takes model, frames, classes and
protocol from the entry.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field
from typing import Any

from vbench.errors import VbenchError


class UnknownWeightsError(VbenchError, KeyError):
    def __init__(self, name: str, known: list[str]):
        close = difflib.get_close_matches(name, known, n=4, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        super().__init__(f"unknown weights '{name}'.{hint} Run `vbench models --weights` for the list.")

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Weights:
    """One published checkpoint and the accuracy its authors report for it.

    ``frames`` and ``size`` are the test input (T, and the crop side); ``protocol`` is the
    vbench view preset of the reported figure and ``views`` any change to that preset the
    checkpoint needs (``{"interval": 5}``). ``other_results`` holds further published
    figures of the same file under other presets: ``((preset, top1), ...)``.
    ``model_kwargs`` go to the builder. ``sha256`` is None until known (vbench records
    the hash of the first download beside the cache and checks later files against it);
    ``hash_in_name``: the file name ends in a sha256 prefix, as torchvision's do.
    """

    name: str
    model: str
    url: str | None
    filename: str | None
    dataset: str
    num_classes: int
    frames: int
    size: int
    protocol: str | None
    top1: float | None
    source: str
    sha256: str | None = None
    auto: bool = True
    page: str | None = None
    views: dict[str, Any] = field(default_factory=dict)
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    other_results: tuple[tuple[str, float], ...] = ()
    notes: str = ""
    hash_in_name: bool = False

    @property
    def tag(self) -> str:
        return self.name.split(".", 1)[1]

    @property
    def results(self) -> dict[str, float | None]:
        """Every published top-1 of this file by the view preset it was reported under."""
        return {self.protocol: self.top1, **dict(self.other_results)} if self.protocol else {}

    def manual_download_hint(self) -> str:
        where = self.page or self.url or f"the {self.source.split()[0]} repository"
        file = f" '{self.filename}'" if self.filename else " the checkpoint"
        return f"download{file} from {where} and pass --checkpoint PATH"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["other_results"] = [list(r) for r in self.other_results]
        return out


_TSM = "mit-han-lab/temporal-shift-module README.md"
_TSM_URL = "https://file.lzhu.me/projects/tsm/models/"
_TADA = "alibaba-mmai-research/TAdaConv MODEL_ZOO.md (commit ac69b88; projects/tada/README.md agrees)"
_TADA_NOTE = ("TAdaConv's MODEL_ZOO.md at commit 187b65b lists other drive links with lower figures "
              "(K400 8x8 76.3, 16x5 76.9; SSv2 8f 63.8, 16f 65.2): check which file you downloaded")
_TADA_DENSE = ("10 clips x 3 crops of T frames every interval-th (MODEL_ZOO's 'frames x sampling rate'); "
               "vbench-dense-10x3 is the nearest preset, TAdaConv's own test loader is not replicated; ")
_TCP = "ZilinGao/Temporal-attentive-Covariance-Pooling-Networks-for-Video-Recognition README.md"
_IG65M = "moabitcoin/ig65m-pytorch README.md and ig65m/models.py (also facebookresearch/VMZ pt/vmz/models/utils.py)"
_IG65M_URL = "https://github.com/moabitcoin/ig65m-pytorch/releases/download/v1.0.0/"
_VMZ_ZOO = "facebookresearch/VMZ c2/tutorials/model_zoo.md"
_TV = "pytorch/vision torchvision/models/video/resnet.py (weights metadata)"
_EAN = "tianyuan168326/EAN-Pytorch README.md; file names from its script/test/sthv1/*.sh"
_EAN_PAGE = "https://www.jianguoyun.com/p/DQ75LqkQ_vLOBhjx4IEE"
_EAN_NOTE = ("EAN's loader takes 5 consecutive frames per segment (frames = 5 x segments); no vbench preset "
             "replicates it, so an eval with these weights is not EAN's protocol")


def _tsm(name: str, model: str, file: str, dataset: str, classes: int, frames: int, protocol: str, top1: float,
         other: tuple = (), size: int | None = None, notes: str = "") -> Weights:
    crop = size or (256 if protocol in ("tsm-2x3", "tsm-dense-10x3") else 224)
    return Weights(name, model, _TSM_URL + file, file, dataset, classes, frames, crop, protocol, top1, _TSM,
                   other_results=other, notes=notes)


def _drive(name: str, model: str, page: str, dataset: str, classes: int, frames: int, size: int,
           protocol: str | None, top1: float | None, source: str, filename: str | None = None,
           other: tuple = (), views: dict | None = None, notes: str = "") -> Weights:
    return Weights(name, model, page, filename, dataset, classes, frames, size, protocol, top1, source, auto=False,
                   page=page, views=views or {}, other_results=other, notes=notes)


_TSN_FIVE = ("the file name says segment5, but the README lists it at 8 frames (8 x 10 clips dense, "
             "8 x 1 clip uniform): the table is the source")

WEIGHTS: dict[str, Weights] = {w.name: w for w in (
    # TSM code base: TSN and TSM on Kinetics-400 (README "Dense Sample" and "Uniform Sampling" tables)
    _tsm("tsn_r50.k400_8f", "tsn_r50", "TSM_kinetics_RGB_resnet50_avg_segment5_e50.pth", "kinetics400", 400, 8,
         "1x1", 68.8, other=(("tsm-1x10", 69.9), ("tsm-dense-10x3", 70.6)), notes=_TSN_FIVE),
    _tsm("tsm_r50.k400_8f", "tsm_r50", "TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment8_e50.pth",
         "kinetics400", 400, 8, "1x1", 71.2, other=(("tsm-1x10", 72.8),)),
    _tsm("tsm_r50.k400_16f", "tsm_r50", "TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment16_e50.pth",
         "kinetics400", 400, 16, "1x1", 72.6, other=(("tsm-1x10", 73.7),)),
    _tsm("tsm_r50.k400_dense_8f", "tsm_r50", "TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment8_e100_dense.pth",
         "kinetics400", 400, 8, "tsm-dense-10x3", 74.1),
    # Something-Something V1: efficient (centre crop, 1 clip) and accurate (full resolution, 2 clips)
    _tsm("tsm_r50.sthv1_8f", "tsm_r50", "TSM_something_RGB_resnet50_shift8_blockres_avg_segment8_e45.pth", "sthv1",
         174, 8, "tsm-sthv1", 45.6, other=(("tsm-2x3", 47.2),)),
    _tsm("tsm_r50.sthv1_16f", "tsm_r50", "TSM_something_RGB_resnet50_shift8_blockres_avg_segment16_e45.pth",
         "sthv1", 174, 16, "tsm-sthv1", 47.2, other=(("tsm-2x3", 48.4),)),
    _tsm("tsm_r101.sthv1_8f", "tsm_r101", "TSM_something_RGB_resnet101_shift8_blockres_avg_segment8_e45.pth",
         "sthv1", 174, 8, "tsm-sthv1", 46.9, other=(("tsm-2x3", 48.7),)),
    # Something-Something V2: accurate setting only
    _tsm("tsm_r50.sthv2_8f", "tsm_r50", "TSM_somethingv2_RGB_resnet50_shift8_blockres_avg_segment8_e45.pth",
         "sthv2", 174, 8, "tsm-2x3", 61.2),
    _tsm("tsm_r50.sthv2_16f", "tsm_r50", "TSM_somethingv2_RGB_resnet50_shift8_blockres_avg_segment16_e45.pth",
         "sthv2", 174, 16, "tsm-2x3", 63.1),
    _tsm("tsm_r101.sthv2_8f", "tsm_r101", "TSM_somethingv2_RGB_resnet101_shift8_blockres_avg_segment8_e45.pth",
         "sthv2", 174, 8, "tsm-2x3", 63.3),
    # TAdaConv: Google Drive (and Baidu) only
    _drive("tada2d_r50.k400_8f", "tada2d_r50",
           "https://drive.google.com/file/d/1YsbTKLoDwxtStAsP5oxUMbIsw85NvY0O/view?usp=sharing", "kinetics400", 400,
           8, 256, "vbench-dense-10x3", 76.7, _TADA, views={"interval": 8}, notes=_TADA_DENSE + _TADA_NOTE),
    _drive("tada2d_r50.k400_16f", "tada2d_r50",
           "https://drive.google.com/file/d/1UQDurxakmnDxa5D2tBuTqTH60BVyW3XM/view?usp=sharing", "kinetics400", 400,
           16, 256, "vbench-dense-10x3", 77.4, _TADA, views={"interval": 5}, notes=_TADA_DENSE + _TADA_NOTE),
    _drive("tada2d_r50.sthv2_8f", "tada2d_r50",
           "https://drive.google.com/file/d/16y6dDf-hcMmJ2jDCV9tRla8aRJZKJXSk/view?usp=sharing", "sthv2", 174, 8,
           256, "tsm-2x3", 64.2, _TADA,
           notes="projects/tada/README.md gives 64.0 for this file; " + _TADA_NOTE),
    _drive("tada2d_r50.sthv2_16f", "tada2d_r50",
           "https://drive.google.com/file/d/1xwCxuFW6DZ0xpEsp_tFJYQRGuHPJe4uS/view?usp=sharing", "sthv2", 174, 16,
           256, "tsm-2x3", 65.6, _TADA, notes=_TADA_NOTE),
    # TCP: Google Drive (and Baidu) only; "1 crop" and "30 views" columns
    _drive("tcp_tsn_r50.k400_8f", "tcp_tsn_r50",
           "https://drive.google.com/file/d/1p05CaIv50Y2hzELFD4tXYYCZXizjkKAr/view?usp=sharing", "kinetics400", 400,
           8, 224, "1x1", 72.4, _TCP, other=(("tsm-dense-10x3", 75.3),),
           notes="README columns '1 crop' and '30 views'; it does not say how the 30 views' clips are sampled"),
    _drive("tcp_tsn_r50.k400_16f", "tcp_tsn_r50",
           "https://drive.google.com/file/d/1tCg-1JiM8l0_lC_YCyBqeVY_BohiQ3PS/view?usp=sharing", "kinetics400", 400,
           16, 224, "1x1", 73.9, _TCP, other=(("tsm-dense-10x3", 75.8),),
           notes="README columns '1 crop' and '30 views'; it does not say how the 30 views' clips are sampled"),
    # EAN: one Jianguo Cloud folder for both files
    _drive("ean_r50.sthv1_8f", "ean_r50", _EAN_PAGE, "sthv1", 174, 40, 224, None, 53.4, _EAN,
           filename="Somethingv1.RGB_LMC_8f.pth.tar", notes="8 segments x 5 frames; " + _EAN_NOTE),
    _drive("ean_r50.sthv1_16f", "ean_r50", _EAN_PAGE, "sthv1", 174, 80, 224, None, 54.7, _EAN,
           filename="Somethingv1.RGB_LMC_16f.pth.tar", notes="16 segments x 5 frames; " + _EAN_NOTE),
    # ECA-Net (ImageNet): Baidu only
    _drive("eca_r50.in1k", "eca_r50", "https://pan.baidu.com/s/1pcn6ZfZUAYKycZ6FMr4F2Q", "imagenet", 1000, 1, 224,
           None, 77.48, "BangguWu/ECANet README.md (commit 01195a7)", filename=None,
           notes="Baidu extract code 7qo9; README name eca_resnet50_k3557; ImageNet val, 1 centre crop "
                 "(not a video protocol)"),
    _drive("eca_r101.in1k", "eca_r101", "https://pan.baidu.com/s/1Cx8dt5RrQlf-Q6BZ82QSDg", "imagenet", 1000, 1, 224,
           None, 78.65, "BangguWu/ECANet README.md (commit 01195a7)", filename=None,
           notes="Baidu extract code mvg2; README name eca_resnet101_k3357; ImageNet val, 1 centre crop"),
    # P3D PyTorch port: the README withdrew its links; the code names the file
    Weights("p3d_r199.k400", "p3d_r199", None, "p3d_rgb_199.checkpoint.pth.tar", "kinetics400", 400, 16, 160, None,
            None, "qijiezhao/pseudo-3d-pytorch README.md and p3d_model.py", auto=False,
            page="https://github.com/qijiezhao/pseudo-3d-pytorch",
            notes="the README withdrew its download links ('[BaiduYun url]') and states no Kinetics accuracy "
                  "for this file (its UCF101 figures are fine-tuned models)"),
    # R(2+1)D-34 on IG-65M (moabitcoin's conversion of the VMZ Caffe2 models; VMZ's PyTorch code uses the same URLs)
    Weights("r2plus1d_r34.ig65m_k400_8f", "r2plus1d_r34",
            _IG65M_URL + "r2plus1d_34_clip8_ft_kinetics_from_ig65m-0aa0550b.pth",
            "r2plus1d_34_clip8_ft_kinetics_from_ig65m-0aa0550b.pth", "kinetics400", 400, 8, 112, "vmz-10x1", 74.9,
            f"{_VMZ_ZOO} (accuracy); {_IG65M} (URL)",
            notes="the VMZ zoo states video-level top-1 on K400 val without its clip count; vmz-10x1 follows "
                  "VMZ's models.md (10 clips)"),
    Weights("r2plus1d_r34.ig65m_k400_32f", "r2plus1d_r34",
            _IG65M_URL + "r2plus1d_34_clip32_ft_kinetics_from_ig65m-ade133f1.pth",
            "r2plus1d_34_clip32_ft_kinetics_from_ig65m-ade133f1.pth", "kinetics400", 400, 32, 112, "vmz-10x1", 80.0,
            f"{_VMZ_ZOO} (accuracy); {_IG65M} (URL)",
            notes="the VMZ zoo states video-level top-1 on K400 val without its clip count; vmz-10x1 follows "
                  "VMZ's models.md (10 clips)"),
    Weights("r2plus1d_r34.ig65m_8f", "r2plus1d_r34", _IG65M_URL + "r2plus1d_34_clip8_ig65m_from_scratch-9bae36ae.pth",
            "r2plus1d_34_clip8_ig65m_from_scratch-9bae36ae.pth", "ig65m", 359, 8, 112, None, None, _IG65M,
            notes="IG-65M pre-training only (359 hashtag classes, no label map published): for fine-tuning"),
    Weights("r2plus1d_r34.ig65m_32f", "r2plus1d_r34", _IG65M_URL + "r2plus1d_34_clip32_ig65m_from_scratch-449a7af9.pth",
            "r2plus1d_34_clip32_ig65m_from_scratch-449a7af9.pth", "ig65m", 487, 32, 112, None, None, _IG65M,
            notes="IG-65M pre-training only (487 hashtag classes, no label map published): for fine-tuning"),
    # torchvision's own weights (its metadata: K400 val, 5 clips of 16 frames at 15 fps, 112 crop)
    Weights("tv_r2plus1d_18.k400", "tv_r2plus1d_18", "https://download.pytorch.org/models/r2plus1d_18-91a641e6.pth",
            "r2plus1d_18-91a641e6.pth", "kinetics400", 400, 16, 112, "torchvision-5x1", 67.463, _TV, hash_in_name=True),
    Weights("tv_r3d_18.k400", "tv_r3d_18", "https://download.pytorch.org/models/r3d_18-b3b3357e.pth",
            "r3d_18-b3b3357e.pth", "kinetics400", 400, 16, 112, "torchvision-5x1", 63.200, _TV, hash_in_name=True),
    Weights("tv_mc3_18.k400", "tv_mc3_18", "https://download.pytorch.org/models/mc3_18-a90a0ba3.pth",
            "mc3_18-a90a0ba3.pth", "kinetics400", 400, 16, 112, "torchvision-5x1", 63.960, _TV, hash_in_name=True),
)}


def register_weights(entry: Weights, *, replace: bool = False) -> Weights:
    """Add an entry to the table (a plugin's own checkpoints, or a test's)."""
    if "." not in entry.name or entry.name.split(".", 1)[0] != entry.model:
        raise VbenchError(f"weights name '{entry.name}' must read '<model>.<tag>' with model '{entry.model}'")
    if entry.name in WEIGHTS and not replace:
        raise VbenchError(f"weights '{entry.name}' are registered already")
    WEIGHTS[entry.name] = entry
    return entry


def unregister_weights(name: str) -> None:
    WEIGHTS.pop(name, None)


def list_weights(model: str | None = None) -> list[Weights]:
    """Every entry (of one model), sorted by name."""
    return [WEIGHTS[n] for n in sorted(WEIGHTS) if model is None or WEIGHTS[n].model == model]


def get_weights(name: str, model: str | None = None) -> Weights:
    """The entry called ``name`` (``tsm_r50.k400_8f``), or ``<model>.<name>`` given a model."""
    if name in WEIGHTS:
        return WEIGHTS[name]
    full = name if model is None or name.startswith(f"{model}.") else f"{model}.{name}"
    if full in WEIGHTS:
        return WEIGHTS[full]
    raise UnknownWeightsError(full, list(WEIGHTS))


def weights_file(entry: Weights, *, checkpoint: str | None = None, progress: bool = True) -> str:
    """The local file of ``entry``: ``checkpoint`` if given, else the hub cache's copy,
    downloaded first where plain HTTP can (a rich progress bar on stderr)."""
    if checkpoint:
        return checkpoint
    if not entry.auto or not entry.url:
        host = "a drive page" if entry.url else "no download link"
        raise VbenchError(f"{entry.name} cannot be downloaded automatically ({host}): "
                          f"{entry.manual_download_hint()}")
    from vbench.models.download import fetch_checkpoint

    filename = entry.filename or entry.url.rsplit("/", 1)[-1]
    if not progress:
        return str(fetch_checkpoint(entry.url, filename, sha256=entry.sha256, hash_in_name=entry.hash_in_name))
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    with Progress(TextColumn(f"downloading {filename}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("download", total=None)

        def on_progress(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        return str(fetch_checkpoint(entry.url, filename, sha256=entry.sha256, on_progress=on_progress,
                                    hash_in_name=entry.hash_in_name))


def load_weights(model, entry: Weights, *, checkpoint: str | None = None, strict: bool = True,
                 progress: bool = True):
    """Load ``entry``'s checkpoint into ``model`` through the model's own converter."""
    from vbench.models.checkpoint import load_checkpoint

    return load_checkpoint(model, weights_file(entry, checkpoint=checkpoint, progress=progress), strict=strict)
