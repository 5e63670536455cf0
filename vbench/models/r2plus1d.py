"""R(2+1)D: "A Closer Look at Spatiotemporal Convolutions for Action Recognition"
(Tran, Wang, Torresani, Ray, LeCun, Paluri; CVPR 2018, arXiv 1711.11248).

A 3D ResNet (R3D) whose every t x d x d convolution is factorised into a 1 x d x d
spatial conv to M channels, BN, ReLU and a t x 1 x 1 temporal conv (paper section 3.5).
M is chosen so that the (2+1)D conv has the parameters of the 3D conv it replaces:

    M = floor(t d^2 N_in N_out / (d^2 N_in + t N_out))        (t = d = 3 here)

from *that conv's own* input and output widths. This is what the official code does:
VMZ's Caffe2 builder (``c2/lib/models/builder/video_model.py``, ``add_conv``, block type
"2.5d") and its PyTorch port (``pt/vmz/models/utils.py``, ``Conv2Plus1D``, which ignores
the mid-plane count handed to it and recomputes it from its own widths). R(2+1)D-18 thus
has R3D-18's 33.3M parameters (VMZ ``c2/tutorials/models.md``).

``midplanes="per_block"`` computes M once per block from the block's input and output
widths and uses it for both convs: torchvision's ``r2plus1d_18`` (``BasicBlock``). In the
first block of layer2..4 the second conv (input already the wider width) then gets
fewer mid-planes (e.g. 230 instead of 288 in layer2), hence torchvision's 31.5M. It
exists to prove this implementation against torchvision's; the default is the paper's.

Layout (VMZ ``c2/lib/models/r3d_model.py``, ``create_r3d``; torchvision ``VideoResNet``):
stem = 1x7x7 conv (stride 1,2,2) to 45 channels, BN, ReLU, 3x1x1 conv to 64, BN, ReLU
(no max-pool); four stages of basic blocks, 64/128/256/512 wide, the first block of
layer2..4 striding 2 in time *and* space (spatial stride on the 1x3x3 conv, temporal on
the 3x1x1 conv, shortcut 1x1x1 conv with stride 2,2,2); global average pool; fc.
Key names are torchvision's (``stem.0``, ``layer1.0.conv1.0.0``, ``fc``), which the VMZ
PyTorch models also use, so their state dicts load as they are.

BatchNorm eps: Caffe2/VMZ use 1e-3 (``spatial_bn`` epsilon, and VMZ's PyTorch models set
``eps = 1e-3``), torchvision 1e-5. ``bn_eps=None`` takes the value of the reference the
mid-plane layout follows: 1e-3 for the paper's ("per_conv"), 1e-5 for "per_block".

Frames and sizes: any T >= 1 and H, W >= 1 (every conv pads; three stride-2 stages
take T to ceil(T/8)). R(2+1)D-34 defaults to the paper's 32-frame clips (Table 5).
"""

from __future__ import annotations

import torch
from torch import nn

from vbench.errors import InputShapeError, VbenchError
from vbench.models.contract import replace_linear
from vbench.models.registry import KINETICS_MEAN, KINETICS_STD, register_model

PAPER = "A Closer Look at Spatiotemporal Convolutions for Action Recognition"
CODE = "facebookresearch/VMZ"
STAGES = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}
WIDTHS = (64, 128, 256, 512)
MIDPLANES = ("per_conv", "per_block")
IMAGENET_NOT_APPLICABLE = ("{name} is a 3D network: the 2D trunk's ImageNet initialisation (pretrained=) does not "
                           "apply to it. Load a video checkpoint with vbench.models.load_checkpoint instead.")


def check_video_input(x: torch.Tensor, min_frames: int = 1, min_size: int = 1, why: str = "") -> None:
    """One clear error for an input a 3D network cannot take."""
    if x.dim() != 5:
        raise InputShapeError(f"expected a video batch (N, C, T, H, W), got a tensor of shape {tuple(x.shape)}")
    _, _, t, h, w = x.shape
    if t < min_frames:
        raise InputShapeError(f"this model needs at least {min_frames} frames, the input has {t}{why}")
    if min(h, w) < min_size:
        raise InputShapeError(f"this model needs frames of at least {min_size}x{min_size} pixels, "
                              f"the input has {h}x{w}")


def midplanes(in_planes: int, out_planes: int, t: int = 3, d: int = 3) -> int:
    """The paper's M: the (2+1)D conv gets the parameters of the t x d x d conv it replaces."""
    return (t * d * d * in_planes * out_planes) // (d * d * in_planes + t * out_planes)


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


class BasicBlock2Plus1D(nn.Module):
    """A ResNet basic block of two (2+1)D convs (torchvision's ``BasicBlock`` layout)."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1, per_block: bool = False,
                 bn_eps: float = 1e-5):
        super().__init__()
        block_mid = midplanes(in_planes, planes)
        mid1 = block_mid if per_block else midplanes(in_planes, planes)
        mid2 = block_mid if per_block else midplanes(planes, planes)
        self.conv1 = nn.Sequential(Conv2Plus1D(in_planes, planes, mid1, stride, bn_eps),
                                   nn.BatchNorm3d(planes, eps=bn_eps), nn.ReLU(inplace=True))
        self.conv2 = nn.Sequential(Conv2Plus1D(planes, planes, mid2, 1, bn_eps), nn.BatchNorm3d(planes, eps=bn_eps))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(nn.Conv3d(in_planes, planes, 1, stride=stride, bias=False),
                                            nn.BatchNorm3d(planes, eps=bn_eps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.conv2(self.conv1(x))
        out += identity
        return self.relu(out)


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


class R2Plus1D(nn.Module):
    """R(2+1)D-18/34: stem, four stages of (2+1)D basic blocks, global pool, fc."""

    imagenet_trunk_unsupported = IMAGENET_NOT_APPLICABLE.format(name="R(2+1)D")

    def __init__(self, depth: int = 18, num_classes: int = 400, *, midplanes: str = "per_conv",
                 bn_eps: float | None = None, dropout: float = 0.0):
        super().__init__()
        if depth not in STAGES:
            raise VbenchError(f"R(2+1)D is built at depth {' or '.join(map(str, STAGES))}, not {depth}")
        if midplanes not in MIDPLANES:
            raise VbenchError(f"midplanes must be one of {', '.join(MIDPLANES)}, got '{midplanes}'")
        per_block = midplanes == "per_block"
        eps = bn_eps if bn_eps is not None else (1e-5 if per_block else 1e-3)
        self.stem = R2Plus1DStem(eps)
        channels = 64
        for stage, (planes, blocks) in enumerate(zip(WIDTHS, STAGES[depth]), 1):
            stride = 1 if stage == 1 else 2
            layer = []
            for index in range(blocks):
                layer.append(BasicBlock2Plus1D(channels, planes, stride if index == 0 else 1, per_block, eps))
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
        """(N, 3, T, H, W) -> layer4 features (N, 512, ceil(T/8), ~H/16, ~W/16)."""
        check_video_input(x)
        x = self.stem(x)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.avgpool(features).flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        replace_linear(self, "fc", num_classes)


def vmz_filter(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """VMZ's PyTorch checkpoints (``pt/vmz``) use torchvision's key names, as vbench does.

    Their tensors pass through unchanged; the per-conv mid-plane shapes are what tells a
    VMZ state dict from torchvision's ``r2plus1d_18`` (load the latter into
    ``midplanes="per_block"``).
    """
    return dict(state_dict)


_REGISTRATION = dict(method="R(2+1)D", paper=PAPER, classifier="fc",
                     mean=KINETICS_MEAN, std=KINETICS_STD, year=2018, arxiv="1711.11248", code=CODE, family="3D",
                     size=(112, 112), checkpoint_filter=vmz_filter)


@register_model(**_REGISTRATION, frames=16,
                notes="paper's per-conv mid-planes (33.3M); midplanes='per_block' builds torchvision's r2plus1d_18")
def r2plus1d_r18(num_classes: int = 400, num_frames: int = 16, midplanes: str = "per_conv",
                 bn_eps: float | None = None, dropout: float = 0.0) -> nn.Module:
    """R(2+1)D-18 (paper Table 2; VMZ model zoo: 33.3M params, 41.5 GFLOPs at 16x112x112)."""
    return R2Plus1D(18, num_classes, midplanes=midplanes, bn_eps=bn_eps, dropout=dropout)


@register_model(**_REGISTRATION, frames=32, notes="paper's per-conv mid-planes; 32-frame clips as in the paper's Table 5")
def r2plus1d_r34(num_classes: int = 400, num_frames: int = 32, midplanes: str = "per_conv",
                 bn_eps: float | None = None, dropout: float = 0.0) -> nn.Module:
    """R(2+1)D-34 (VMZ model zoo: 63.6M params; its GFLOPs, 49.8 and 199.0 at 8 and 32 frames,
    were counted at 128x128, where vbench counts the same)."""
    return R2Plus1D(34, num_classes, midplanes=midplanes, bn_eps=bn_eps, dropout=dropout)
