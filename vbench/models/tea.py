"""TEA: Temporal Excitation and Aggregation (Li et al., CVPR 2020, arXiv 2004.01398).

Built as the official code builds it (Phoenix1327/tea-action-recognition, ``ops/tea50_8f.py``
and ``ops/tea50_16f.py``, identical but for the hard-coded frame count; ``ops/models.py``
for the TSN wrapper). The modules are in ``vbench/models/modules/tea.py``.

What the code says (and the paper does not, or says otherwise):

- The trunk is Res2Net-50 26w x 4s (``Res2Net(Bottle2neckShift, [3, 4, 6, 3], baseWidth=26,
  scale=4)``), not a plain ResNet-50 bottleneck: the 3x3 stage of a block works on
  ``4 x floor(planes * 26 / 64)`` channels (104, 208, 416, 832) in 4 fragments, and the
  ImageNet initialisation is Res2Net-50's (``res2net50_26w_4s``, loaded with
  ``strict=False``). vbench widens the trunk's bottleneck with ``block_width`` and keeps
  the torchvision/Res2Net key names for every tensor they share.
- Every block is a TEA block: ME after the first 1x1 conv + BN + ReLU (trunk slot ``mid``),
  MTA in place of the 3x3 conv (slot ``spatial``; MTA applies its own BN and ReLU per
  fragment and leaves the passed-through fragment unrectified, so the trunk's BN and ReLU
  after the spatial conv are Identity here). ME's reduction ratio is 16 (``channel // 16``:
  6, 13, 26, 52 channels).
- The first block of each stage is Res2Net's ``stype='stage'`` block (no hierarchy, strided
  fragment convs, 3x3 average pool on the last fragment, also at stride 1 in layer1); its
  shortcut is the plain 1x1 strided conv + BN projection of torchvision's ResNet (the
  trunk default), not Res2Net-v1b's average-pool shortcut.
- Temporal convs (``ShiftModule``, a depthwise ``Conv1d`` of kernel 3 over time): identity at
  the start for the three convolved fragments, shift (half from t+1, half from t-1) for the
  last one; Conv2d weights Kaiming (fan_out), BN weight 1 and bias 0 (the ``Res2Net``
  initialisation loop, which vbench's trunk repeats); ME's convs are Conv2d, so Kaiming too.
- ME's excitation is ``X + X * (sigmoid(.) - 0.5)``; the paper's, as summarised, ``X + X * A``.
- Head (``ops/models.py``): global average pool, dropout 0.5, ``new_fc`` on every frame,
  average of the frame scores; ``new_fc`` starts N(0, 0.001), bias 0.

Depths. TEA is defined on Res2Net's bottleneck, so depth 50 and 101 are Res2Net-50/101
26w x 4s with TEA blocks (the code has ``res2net101_26w_4s`` but TEA used only 50). Depth
18 and 34 (vbench's choice; no such TEA exists) keep the basic blocks of ResNet-18/34: ME
on the block input (right before its first 3x3 conv, where the bottleneck has it too) and
MTA in place of that first 3x3 conv with 4 fragments of in/4 -> out/4 channels; where a
stage's first block changes the width (stages 2-4) the fourth fragment cannot pass
through unchanged, so it is convolved like the other three.

Frames: any T >= 2 (the official files hard-code 8 or 16); one frame has no motion to
excite and is refused.

Checkpoint keys (official, after ``module.``): ``base_model.layer1.0.me.conv1.weight`` ->
``layer1.0.mid.conv1.weight``; ``base_model.layer1.0.convs.0.weight`` / ``bns.0.*`` ->
``layer1.0.conv2.convs.0.weight`` / ``conv2.bns.0.*``; ``shifts.3.conv.weight`` ->
``conv2.temporal.3.weight``; ``new_fc.*`` -> ``head.fc.*``; the rest (``conv1``, ``bn1``,
``conv3``, ``bn3``, ``downsample.0/1``) keep their names. The same map takes a Res2Net-50
ImageNet state dict (``create_model("tea_r50", pretrained=path)``). The authors released no
TEA checkpoints.
"""

from __future__ import annotations

import math
import re

import torch
from torch import nn

from vbench.models.common import require_motion_frames, tsm_codebase_filter
from vbench.models.registry import register_model
from vbench.models.resnet import DEPTHS, BlockPlugins, BlockSpec, video_resnet
from vbench.models.modules.tea import MotionExcitation, MultipleTemporalAggregation

TEA_PAPER = "TEA: Temporal Excitation and Aggregation for Action Recognition"
_OFFICIAL_BLOCK_KEY = re.compile(r"^(layer\d+\.\d+)\.(me|convs|bns|shifts)\.(.*)$")


def res2net_width(base_width: int = 26, scale: int = 4):
    """Channels of a Res2Net bottleneck's 3x3 stage: ``scale * floor(planes * base_width / 64)``."""
    return lambda planes: scale * math.floor(planes * base_width / 64)


def tea_plugins(reduction: int = 16, scale: int = 4) -> BlockPlugins:
    """ME before the spatial conv, MTA in its place (with its own norms and activations)."""

    def excitation(spec: BlockSpec) -> nn.Module:
        return MotionExcitation(spec.width, spec.num_frames, reduction)

    def aggregation(spec: BlockSpec) -> nn.Module:
        return MultipleTemporalAggregation(spec.width, spec.spatial_out, spec.num_frames, stride=spec.stride,
                                           scale=scale, stage_first=spec.index == 0)

    return BlockPlugins(mid=excitation, spatial=aggregation,
                        spatial_norm=lambda spec: nn.Identity(), spatial_act=lambda spec: nn.Identity())


def tea_checkpoint_filter(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Map official TEA (or Res2Net ImageNet) keys to vbench's; vbench keys pass unchanged."""
    spatial = "conv2" if getattr(model, "depth", 50) >= 50 else "conv1"
    out = {}
    for key, value in tsm_codebase_filter(state_dict, model).items():
        match = _OFFICIAL_BLOCK_KEY.match(key)
        if match:
            block, part, rest = match.groups()
            if part == "me":
                key = f"{block}.mid.{rest}"
            elif part == "shifts":
                key = f"{block}.{spatial}.temporal.{rest.replace('conv.', '', 1)}"
            else:
                key = f"{block}.{spatial}.{part}.{rest}"
        out[key] = value
    return out


@register_model(
    classifier="head.fc", method="TEA", paper=TEA_PAPER, year=2020, arxiv="2004.01398", code="Phoenix1327/tea-action-recognition",
    family="motion", depths=DEPTHS, checkpoint_filter=tea_checkpoint_filter,
    notes="Res2Net-50 26w x 4s trunk, as the official code",
)
def tea_r50(num_classes: int = 400, num_frames: int = 8, depth: int = 50, dropout: float = 0.5,
            reduction: int = 16, scale: int = 4, base_width: int = 26, **options) -> nn.Module:
    """TEA: ME and MTA in every block of a Res2Net-style trunk; TSN head."""
    require_motion_frames(num_frames, "TEA")
    return video_resnet(depth=depth, num_classes=num_classes, num_frames=num_frames, dropout=dropout,
                        plugins=tea_plugins(reduction, scale), block_width=res2net_width(base_width, scale),
                        **options)
