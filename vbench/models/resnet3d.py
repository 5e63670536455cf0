"""One 3D ResNet for the zoo's 3D-convolution networks (torchvision's ``VideoResNet`` pattern).

A stem, four stages of basic blocks (64/128/256/512 wide; the first block of layer2..4
strides 2), global average pooling, dropout and ``fc``. What varies between networks is
injected, not rewritten:

- ``stem``: a factory ``stem(bn_eps) -> nn.Module`` (``BasicStem``: 3x7x7 conv;
  ``R2Plus1DStem``: a factorised 1x7x7 + 3x1x1 stem);
- ``conv_makers``: one class a stage, called ``maker(in_planes, out_planes, mid_planes,
  stride, bn_eps)``; its ``downsample_stride(stride)`` says how the block's shortcut
  strides (``Conv3DSimple`` 3x3x3, ``Conv3DNoTemporal`` 1x3x3, ``Conv2Plus1D``);
- ``midplanes``: how many channels a (2+1)D conv gets between its spatial and temporal
  parts: ``"per_conv"`` computes the paper's M from each conv's own widths (VMZ),
  ``"per_block"`` once a block from its input and output widths, for both convs
  (torchvision). Makers without a middle ignore it.

Key names are torchvision's (``stem.0``, ``layer1.0.conv1.0``, ``layer2.0.downsample.0``,
``fc``), so torchvision's and VMZ's state dicts load as they are. R3D-18, MC3-18 and
R(2+1)D-18/34 (both mid-plane layouts) are this class with other arguments
(``vbench.models.r2plus1d``, ``vbench.models.tv_video``). P3D stays apart
(``vbench.models.p3d``: bottlenecks with three S/T wirings, temporal max-pools between
stages and a 2D res5).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from vbench.models.common import check_video_input
from vbench.models.contract import replace_linear

WIDTHS = (64, 128, 256, 512)
MIDPLANES = ("per_conv", "per_block")


def midplanes(in_planes: int, out_planes: int, t: int = 3, d: int = 3) -> int:
    """The paper's M: the (2+1)D conv gets the parameters of the t x d x d conv it replaces."""
    return (t * d * d * in_planes * out_planes) // (d * d * in_planes + t * out_planes)


class Conv3DSimple(nn.Conv3d):
    """A 3x3x3 conv, striding time and space alike (R3D)."""

    def __init__(self, in_planes: int, out_planes: int, mid_planes: int = 0, stride: int = 1, bn_eps: float = 1e-5):
        super().__init__(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)

    @staticmethod
    def downsample_stride(stride: int) -> tuple[int, int, int]:
        return (stride, stride, stride)


class Conv3DNoTemporal(nn.Conv3d):
    """A 1x3x3 conv, space only (MC3's stages above layer1)."""

    def __init__(self, in_planes: int, out_planes: int, mid_planes: int = 0, stride: int = 1, bn_eps: float = 1e-5):
        super().__init__(in_planes, out_planes, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False)

    @staticmethod
    def downsample_stride(stride: int) -> tuple[int, int, int]:
        return (1, stride, stride)


class Conv2Plus1D(nn.Sequential):
    """1x3x3 spatial conv to ``mid`` channels, BN, ReLU, 3x1x1 temporal conv.

    ``stride`` applies to space on the spatial conv and to time on the temporal conv.
    """

    def __init__(self, in_planes: int, out_planes: int, mid: int, stride: int = 1, bn_eps: float = 1e-5):
        super().__init__(
            nn.Conv3d(in_planes, mid, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False),
            nn.BatchNorm3d(mid, eps=bn_eps),
            nn.ReLU(inplace=True),
            nn.Conv3d(mid, out_planes, (3, 1, 1), stride=(stride, 1, 1), padding=(1, 0, 0), bias=False),
        )

    @staticmethod
    def downsample_stride(stride: int) -> tuple[int, int, int]:
        return (stride, stride, stride)


ConvMaker = type[Conv3DSimple] | type[Conv3DNoTemporal] | type[Conv2Plus1D]


class BasicStem(nn.Sequential):
    """3x7x7 conv (stride 1,2,2) to 64 channels, BN, ReLU (R3D, MC3)."""

    def __init__(self, bn_eps: float = 1e-5, in_channels: int = 3):
        super().__init__(
            nn.Conv3d(in_channels, 64, (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
            nn.BatchNorm3d(64, eps=bn_eps),
            nn.ReLU(inplace=True),
        )


class R2Plus1DStem(nn.Sequential):
    """1x7x7 conv (stride 1,2,2) to 45 channels, BN, ReLU, 3x1x1 conv to 64, BN, ReLU."""

    def __init__(self, bn_eps: float = 1e-5, in_channels: int = 3):
        super().__init__(
            nn.Conv3d(in_channels, 45, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
            nn.BatchNorm3d(45, eps=bn_eps),
            nn.ReLU(inplace=True),
            nn.Conv3d(45, 64, (3, 1, 1), stride=1, padding=(1, 0, 0), bias=False),
            nn.BatchNorm3d(64, eps=bn_eps),
            nn.ReLU(inplace=True),
        )


class BasicBlock3D(nn.Module):
    """A ResNet basic block of two convs made by ``maker`` (torchvision's ``BasicBlock`` layout)."""

    def __init__(self, in_planes: int, planes: int, maker: ConvMaker, stride: int = 1,
                 mid_planes: tuple[int, int] = (0, 0), bn_eps: float = 1e-5):
        super().__init__()
        self.conv1 = nn.Sequential(maker(in_planes, planes, mid_planes[0], stride, bn_eps),
                                   nn.BatchNorm3d(planes, eps=bn_eps), nn.ReLU(inplace=True))
        self.conv2 = nn.Sequential(maker(planes, planes, mid_planes[1], 1, bn_eps), nn.BatchNorm3d(planes, eps=bn_eps))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                nn.Conv3d(in_planes, planes, 1, stride=maker.downsample_stride(stride), bias=False),
                nn.BatchNorm3d(planes, eps=bn_eps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.conv2(self.conv1(x))
        out += identity
        return self.relu(out)


def block_midplanes(in_planes: int, planes: int, per_block: bool) -> tuple[int, int]:
    """The mid-planes of a block's two (2+1)D convs (see the module docstring)."""
    first = midplanes(in_planes, planes)
    return (first, first) if per_block else (first, midplanes(planes, planes))


class VideoResNet3D(nn.Module):
    """Stem, four stages of 3D basic blocks, global pool, dropout, ``fc``.

    The model contract: ``forward_features`` gives layer4's ``(N, 512, T', H', W')``;
    classifier ``fc``.
    """

    def __init__(self, layers: Sequence[int], *, stem: Callable[[float], nn.Module],
                 conv_makers: Sequence[ConvMaker], midplanes: str = "per_block", bn_eps: float = 1e-5,
                 num_classes: int = 400, dropout: float = 0.0):
        super().__init__()
        if midplanes not in MIDPLANES:
            raise ValueError(f"midplanes must be one of {', '.join(MIDPLANES)}, got '{midplanes}'")
        per_block = midplanes == "per_block"
        self.stem = stem(bn_eps)
        channels = 64
        for stage, (planes, blocks, maker) in enumerate(zip(WIDTHS, layers, conv_makers), 1):
            stride = 1 if stage == 1 else 2
            layer = []
            for index in range(blocks):
                mids = block_midplanes(channels, planes, per_block)
                layer.append(BasicBlock3D(channels, planes, maker, stride if index == 0 else 1, mids, bn_eps))
                channels = planes
            self.add_module(f"layer{stage}", nn.Sequential(*layer))
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(channels, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        # torchvision's VideoResNet initialisation
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, T, H, W) -> layer4 features (N, 512, T', H', W')."""
        check_video_input(x)
        x = self.stem(x)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.avgpool(features).flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        replace_linear(self, "fc", num_classes)
