"""TAda2D: TAda! Temporally-Adaptive Convolutions for Video Understanding (Huang et al., ICLR 2022).

A 2D ResNet whose spatial 3x3 convs are TAdaConvs (per-frame kernels calibrated from local
and global temporal context, ``vbench/models/modules/tada.py``), each followed by the
temporal feature aggregation (``BN(y) + BN_pool(avgpool_t(y))``). Read from
alibaba-mmai-research/TAdaConv: ``configs/pool/backbone/tada2d.yaml``,
``tadaconv/models/module_zoo/branches/tada_branch.py``, ``ops/tadaconv.py``,
``base/base_blocks.py`` (``Base2DStem``, ``Base3DBlock``, ``BaseHead``):

- trunk: stem 1x7x7 conv stride 2, BN, ReLU, **no max-pool**; ``DOWNSAMPLING`` true for
  every stage, so the first block of each stage (layer1 included) has spatial stride 2 on
  its 3x3 conv and on its shortcut (vbench: ``stem_pool=False, stage_strides=(2, 2, 2, 2)``);
  the 1x1 convs have stride 1;
- calibration: ``ROUTE_FUNC_R: 4``, ``ROUTE_FUNC_K: [3, 3]``, on the conv's input channels
  (``cal_dim="cin"``); aggregation ``POOL_K: [3, 1, 1]``;
- head (``BaseHead``): global average pool over T x H x W, dropout 0.5 (the K400/SSv2
  configs), linear ``out``; softmax at eval (vbench returns the logits before it). vbench's
  head ``"clip_pool"`` does the same: one fc a clip, where TSN's consensus head runs the fc
  on every frame (the same logits at inference, T times the fc's multiply-adds);
- test crop 256 (``TEST_CROP_SIZE: 256`` of ``tada2d_k400.yaml`` and ``tada2d_ssv2.yaml``),
  hence the default input 8 x 256 x 256: the reported GFLOPs are counted there.

Depth 18/34 (a vbench extension: the official branch builds bottlenecks only): the basic
block's first 3x3 conv is the TAdaConv and its BN the aggregation.

At initialisation (``b`` of the calibration and the aggregation's BN at zero) TAda2D equals
the same trunk without TAda (TSN with ``stem_pool=False, stage_strides=(2, 2, 2, 2)``) given
the same base weights.

Checked against the official model (``benchmarks/tada2d_official.py``, 8 x 256 x 256): the
same 27,485,472 params; every one of its 560 tensors lands through ``tada_checkpoint_filter``
and the logits agree to 1e-5; fvcore counts the same convs and fc (43.126 G). The official
code counts GFLOPs with fvcore's default ops and BatchNorm removed
(``tadaconv/utils/misc.py``), i.e. convs and fc here: the reported rows use ``conv-fc``.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from vbench.errors import VbenchError
from vbench.models.registry import register_model
from vbench.models.resnet import DEPTHS, BlockPlugins, BlockSpec, video_resnet
from vbench.models.modules.tada import TAdaConv2d, TemporalAggregationNorm

TADA_PAPER = "TAda! Temporally-Adaptive Convolutions for Video Understanding"


def tada_plugins(ratio: int = 4, kernels: tuple[int, int] = (3, 3), pool_kernel: int = 3) -> BlockPlugins:
    """TAdaConv in place of every block's spatial conv, the aggregation in place of its BN."""

    def conv(spec: BlockSpec) -> nn.Module:
        return TAdaConv2d(spec.width, spec.spatial_out, 3, spec.stride, num_frames=spec.num_frames,
                          ratio=ratio, kernels=kernels)

    def norm(spec: BlockSpec) -> nn.Module:
        return TemporalAggregationNorm(spec.spatial_out, spec.num_frames, pool_kernel)

    return BlockPlugins(spatial=conv, spatial_norm=norm)


_BLOCK = re.compile(r"^backbone\.conv(?P<stage>[2-5])\.res_(?P<block>\d+)\.")
_BRANCH = {  # official conv_branch names -> vbench's block names
    "a.": "conv1.", "a_bn.": "bn1.", "b.": "conv2.", "b_bn.": "bn2.", "c.": "conv3.", "c_bn.": "bn3.",
    "b_rf.": "conv2.calibration.", "b_avgpool_bn.": "bn2.pool_bn.",
}


def _official_key(key: str) -> str:
    if key.startswith("backbone.conv1.a."):
        return "conv1." + key.removeprefix("backbone.conv1.a.")
    if key.startswith("backbone.conv1.a_bn."):
        return "bn1." + key.removeprefix("backbone.conv1.a_bn.")
    if key.startswith("head.out."):
        return "head.fc." + key.removeprefix("head.out.")
    match = _BLOCK.match(key)
    if match is None:
        return key
    block = f"layer{int(match['stage']) - 1}.{int(match['block']) - 1}."
    rest = key[match.end():]
    if rest.startswith("short_cut."):
        return block + "downsample.0." + rest.removeprefix("short_cut.")
    if rest.startswith("short_cut_bn."):
        return block + "downsample.1." + rest.removeprefix("short_cut_bn.")
    rest = rest.removeprefix("conv_branch.")
    for official, ours in sorted(_BRANCH.items(), key=lambda item: -len(item[0])):
        if rest.startswith(official):
            return block + ours + rest.removeprefix(official)
    return block + rest


def _without_ones(shape: torch.Size) -> tuple[int, ...]:
    return tuple(s for s in shape if s != 1)


def tada_checkpoint_filter(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Map a checkpoint of alibaba-mmai-research/TAdaConv (TAda2D) to vbench's keys.

    Official keys (``BaseVideoModel``): ``backbone.conv1.a.weight`` (64, 3, 1, 7, 7), stage
    blocks ``backbone.conv{2..5}.res_{1..}.conv_branch.{a,b,c}[_bn]``, the TAdaConv base
    weight ``...conv_branch.b.weight`` (1, 1, C_out, C_in, 3, 3), its calibration
    ``...conv_branch.b_rf.{g,a,bn,b}`` (Conv3d kernels (k, 1, 1)), the aggregation's BN
    ``...conv_branch.b_avgpool_bn``, shortcuts ``...short_cut`` / ``short_cut_bn``, head
    ``head.out``. Singleton dimensions of the 3D layout are dropped; vbench keys pass through.
    """
    own = model.state_dict()
    out = {}
    for key, value in state_dict.items():
        key = _official_key(key)
        target = own.get(key)
        if target is not None and value.shape != target.shape and _without_ones(value.shape) == _without_ones(
                target.shape):
            value = value.reshape(target.shape)
        out[key] = value
    return out


@register_model(
    classifier="head.fc", method="TAda2D", paper=TADA_PAPER, year=2022, arxiv="2110.06178",
    code="alibaba-mmai-research/TAdaConv", family="adaptive conv", depths=DEPTHS, size=(256, 256),
    checkpoint_filter=tada_checkpoint_filter,
    notes="no stem max-pool, stride 2 in every stage; default input is the 256 test crop of the official configs",
)
def tada2d_r50(num_classes: int = 400, num_frames: int = 8, depth: int = 50, dropout: float = 0.5,
               ratio: int = 4, kernels: tuple[int, int] = (3, 3), pool_kernel: int = 3, **options) -> nn.Module:
    """TAda2D: TAdaConv and temporal aggregation in every block of a max-pool-free ResNet."""
    if num_frames < 2:
        raise VbenchError(f"TAda2D calibrates each frame's kernel from its neighbouring frames and needs at least "
                          f"2 frames, got {num_frames}")
    options.setdefault("head", "clip_pool")
    options.setdefault("stem_pool", False)
    options.setdefault("stage_strides", (2, 2, 2, 2))
    return video_resnet(depth=depth, num_classes=num_classes, num_frames=num_frames, dropout=dropout,
                        plugins=tada_plugins(ratio, tuple(kernels), pool_kernel), **options)
