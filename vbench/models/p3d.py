"""P3D ResNet: "Learning Spatio-Temporal Representation with Pseudo-3D Residual Networks"
(Qiu, Yao, Mei; ICCV 2017, arXiv 1711.10305).

Each 3x3x3 conv of a 3D bottleneck is simulated by a 1x3x3 spatial conv S and a 3x1x1
temporal conv T, in three ways: P3D-A (S then T), P3D-B (S and T side by side, summed)
and P3D-C (S then T, with a shortcut from S's output added to T's). P3D ResNet cycles
A, B, C, A, B, C... over the blocks of res2-res4 (the block's index over the whole
network, modulo 3), built from ResNet-152: 199 layers counting the temporal convs.

Checked against the official release (ZhaofanQiu/pseudo-3d-residual-networks,
``prototxt/deploy_p3d_resnet_kinetics.prototxt``, Caffe) and the PyTorch port
(qijiezhao/pseudo-3d-pytorch, ``p3d_model.py``, which also builds P3D-63 from ResNet-50
and P3D-131 from ResNet-101 by the same rule):

- stem: 1x7x7 conv, stride (1, 2, 2), BN, ReLU, then max-pool 2x3x3 with stride 2 in
  time and space (``pool1``);
- res2-res4 are P3D bottlenecks (1x1x1 reduce, S/T, 1x1x1 expand). The spatial stride of
  res3a/res4a is on the first 1x1x1 conv and on the shortcut projection (Caffe ResNet
  v1), the projection is a 1x1x1 conv with BN;
- a temporal max-pool (2x1x1, stride 2) before res3, res4 and res5 (``3a_pool``,
  ``4a_pool``, ``res5a_pool``): with the stem's, time is divided by 16, so a 16-frame
  clip reaches res5 as one frame;
- res5 is 2D: the official net reshapes the 5D blob to 4D (``res5a_reshape``) and runs
  a plain ResNet bottleneck stage (stride 2 on its first 1x1 conv); global average pool;
  dropout; fc.

Where the two differ, vbench follows the official Caffe net (``reference="caffe"``,
default) and reproduces the port with ``reference="port"``:

================  ==========================================  ===========================
                  Caffe (official)                            PyTorch port
================  ==========================================  ===========================
P3D-B             relu(relu(bn(S x)) + bn(T x))               relu(bn(S x)) + relu(bn(T x))
P3D-C             s = relu(bn(S x)); relu(s + bn(T s))        s + relu(bn(T s))
pool1             no padding, ceil rounding (Caffe pooling)   padding (0, 1, 1), floor
temporal pools    ceil rounding                               floor rounding
================  ==========================================  ===========================

The port's weights were converted from the Caffe models (its README), so only the Caffe
graph runs them as trained. P3D-A is the same in both (S, BN, ReLU, T, BN, ReLU). BN eps
is 1e-5 in both (the release's ``caffe.proto``). Input normalisation differs too and is
the data pipeline's business: Caffe subtracts the BGR means 104/117/123, the port uses
ImageNet's RGB mean and std.

Parameters equal the official deploy net's exactly: 66,492,240 for P3D-199 with 400
classes (66,670,503 with Sports-1M's 487), counted from the prototxt's layer shapes;
P3D-63 equals the port's P3D63 (25,745,232). ``reference="port"`` with the port's weights
gives the port's logits (max difference 7e-8 at 16x160x160, benchmarks/p3d_vs_port.py).

Frames: with Caffe's ceil rounding each temporal pool takes T to ceil(T/2), so any
T >= 1 runs (fewer than 16 frames leave partial pooling windows, as in Caffe); with the
port's floor rounding T must be at least 16. Where more than one frame reaches res5
(T > 16), res5 runs on every frame (frames folded into the batch) and the head averages
over time and space; at 16 frames this is exactly the official net. Spatial size: the
stem's 3x3 pool needs at least 2 pixels after the stride-2 conv, i.e. H, W >= 3.

Depth 18/34 (``p3d_r18``, ``p3d_r34``: a vbench extension, in neither the paper nor the
official code, which build P3D from bottleneck ResNets only) exist so that P3D can be compared
with the zoo's other methods at the depth of vbench's synthetic benchmark. The rule is applied
to the first 3x3 conv of each basic block, as vbench's other depth-18 extensions put their
temporal module once a block (TAda2D, TSM): that conv becomes the block's P3D-A/B/C pair
(spatial stride on S, and on T where T reads the block's input, P3D-B), the second conv stays
a 1x3x3 spatial conv with BN (which starts at one at these depths: ``_init_weights``), then
the shortcut and ReLU; stem and temporal pools are P3D's, res5 is 2D of torchvision's basic
blocks.

Not transcribed from the paper: its tables give model size (MB) and speed, which vbench
does not convert to parameters without the paper saying how the size was stored.

Why P3D is not built on the zoo's 3D trunk (``vbench.models.resnet3d``, which carries
R3D, MC3 and R(2+1)D): its Caffe graph differs from that trunk in more than the conv of
a block. Its blocks are bottlenecks whose S/T pair is wired three ways (A, B, C: a
parallel branch and an inner shortcut, not a conv maker's single path) and whose spatial
stride sits on the first 1x1x1 conv; a max-pool follows the stem and temporal max-pools
sit between the stages; res5 is a 2D stage on folded frames. Injecting all of that
would give the trunk four more hooks that only P3D uses.
"""

from __future__ import annotations

import re

import torch
from torch import nn
from torch.nn import functional as F
from torchvision.models.resnet import BasicBlock as BasicBlock2D

from vbench.errors import VbenchError
from vbench.models.common import check_video_input
from vbench.models.contract import replace_linear
from vbench.models.r2plus1d import IMAGENET_NOT_APPLICABLE
from vbench.models.registry import register_model

PAPER = "Learning Spatio-Temporal Representation with Pseudo-3D Residual Networks"
CODE = "ZhaofanQiu/pseudo-3d-residual-networks (Caffe); qijiezhao/pseudo-3d-pytorch"
STAGES = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 63: (3, 4, 6, 3), 131: (3, 4, 23, 3), 199: (3, 8, 36, 3)}
BASIC_DEPTHS = (18, 34)  # vbench's extension: basic blocks
REFERENCES = ("caffe", "port")
KINDS = "ABC"


def _projection(conv: type, norm: type, in_planes: int, out_planes: int, stride) -> nn.Module | None:
    """The shortcut: a strided 1x1(x1) conv with BN where the block changes shape, else none."""
    if stride in (1, (1, 1, 1)) and in_planes == out_planes:
        return None
    return nn.Sequential(conv(in_planes, out_planes, 1, stride=stride, bias=False), norm(out_planes))


def p3d_pair(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A block's S/T pair in its P3D form (see the module docstring for the ReLUs)."""
    s = block.relu(block.bn_s(block.conv_s(x)))
    if block.kind == "A":
        return block.relu(block.bn_t(block.conv_t(s)))
    t = block.bn_t(block.conv_t(x if block.kind == "B" else s))
    if block.reference == "port":
        return s + block.relu(t)
    return block.relu(s + t)


class P3DBottleneck(nn.Module):
    """A 3D bottleneck whose 3x3x3 conv is a P3D-A, -B or -C pair of S and T convs."""

    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int, kind: str, reference: str = "caffe"):
        super().__init__()
        out_planes = planes * self.expansion
        self.kind, self.reference = kind, reference
        self.conv1 = nn.Conv3d(in_planes, planes, 1, stride=(1, stride, stride), bias=False)
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv_s = nn.Conv3d(planes, planes, (1, 3, 3), padding=(0, 1, 1), bias=False)
        self.bn_s = nn.BatchNorm3d(planes)
        self.conv_t = nn.Conv3d(planes, planes, (3, 1, 1), padding=(1, 0, 0), bias=False)
        self.bn_t = nn.BatchNorm3d(planes)
        self.conv3 = nn.Conv3d(planes, out_planes, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(out_planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _projection(nn.Conv3d, nn.BatchNorm3d, in_planes, out_planes, (1, stride, stride))

    def spatiotemporal(self, x: torch.Tensor) -> torch.Tensor:
        return p3d_pair(self, x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn3(self.conv3(self.spatiotemporal(out)))
        out += identity
        return self.relu(out)

    def extra_repr(self) -> str:
        return f"P3D-{self.kind}"


class P3DBasicBlock(nn.Module):
    """vbench's extension to depth 18/34: a basic block whose first 3x3 conv is a P3D pair."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int, kind: str, reference: str = "caffe"):
        super().__init__()
        self.kind, self.reference = kind, reference
        self.conv_s = nn.Conv3d(in_planes, planes, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1),
                                bias=False)
        self.bn_s = nn.BatchNorm3d(planes)
        parallel = kind == "B"  # P3D-B's T reads the block's input: it takes the stride too
        self.conv_t = nn.Conv3d(in_planes if parallel else planes, planes, (3, 1, 1),
                                stride=(1, stride, stride) if parallel else 1, padding=(1, 0, 0), bias=False)
        self.bn_t = nn.BatchNorm3d(planes)
        self.conv2 = nn.Conv3d(planes, planes, (1, 3, 3), padding=(0, 1, 1), bias=False)
        self.bn3 = nn.BatchNorm3d(planes)  # the residual's last BN: ``bn3`` as in the bottleneck
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _projection(nn.Conv3d, nn.BatchNorm3d, in_planes, planes, (1, stride, stride))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.bn3(self.conv2(p3d_pair(self, x)))
        out += identity
        return self.relu(out)

    def extra_repr(self) -> str:
        return f"P3D-{self.kind} (basic)"


def basic_block_2d(in_planes: int, planes: int, stride: int) -> BasicBlock2D:
    """res5's plain 2D basic block at depth 18/34: torchvision's, with P3D's projection shortcut."""
    return BasicBlock2D(in_planes, planes, stride, downsample=_projection(nn.Conv2d, nn.BatchNorm2d, in_planes,
                                                                          planes, stride))


class Bottleneck2D(nn.Module):
    """res5's plain 2D bottleneck, stride on the first 1x1 conv (Caffe ResNet v1)."""

    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        out_planes = planes * self.expansion
        self.conv1 = nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _projection(nn.Conv2d, nn.BatchNorm2d, in_planes, out_planes, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += identity
        return self.relu(out)


class P3DResNet(nn.Module):
    """P3D ResNet: P3D stem and res2-res4 in 3D, res5 in 2D on every remaining frame."""

    imagenet_trunk_unsupported = IMAGENET_NOT_APPLICABLE.format(name="P3D ResNet")

    def __init__(self, depth: int = 199, num_classes: int = 400, *, reference: str = "caffe",
                 kinds: str = KINDS, dropout: float = 0.5, in_channels: int = 3,
                 zero_init_residual: bool | None = None):
        super().__init__()
        if depth not in STAGES:
            raise VbenchError(f"P3D ResNet is built at depth {', '.join(map(str, STAGES))}, not {depth}")
        if reference not in REFERENCES:
            raise VbenchError(f"reference must be one of {', '.join(REFERENCES)}, got '{reference}'")
        if not kinds or set(kinds) - set(KINDS):
            raise VbenchError(f"kinds must be a sequence of A, B and C (e.g. 'ABC'), got '{kinds}'")
        self.reference = reference
        caffe = reference == "caffe"
        self.min_frames = 1 if caffe else 16
        self.min_size = 3 if caffe else 1
        self.conv1 = nn.Conv3d(in_channels, 64, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False)
        self.bn1 = nn.BatchNorm3d(64)
        self.relu = nn.ReLU(inplace=True)
        self.pool1 = nn.MaxPool3d((2, 3, 3), stride=2, padding=(0, 0, 0) if caffe else (0, 1, 1), ceil_mode=caffe)
        self.temporal_pool = nn.MaxPool3d((2, 1, 1), stride=(2, 1, 1), ceil_mode=caffe)
        block3d, block2d = (P3DBasicBlock, basic_block_2d) if depth in BASIC_DEPTHS else (P3DBottleneck, Bottleneck2D)
        channels, index = 64, 0
        for stage, (planes, blocks) in enumerate(zip((64, 128, 256, 512), STAGES[depth]), 1):
            layer = []
            for i in range(blocks):
                stride = 2 if stage > 1 and i == 0 else 1
                if stage < 4:
                    layer.append(block3d(channels, planes, stride, kinds[index % len(kinds)], reference))
                else:
                    layer.append(block2d(channels, planes, stride))
                channels, index = planes * block3d.expansion, index + 1
            self.add_module(f"layer{stage}", nn.Sequential(*layer))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(channels, num_classes)
        self._init_weights(depth not in BASIC_DEPTHS if zero_init_residual is None else zero_init_residual)

    def _init_weights(self, zero_init_residual: bool) -> None:
        """Kaiming convs, unit BNs; with ``zero_init_residual`` every block's last BN starts at zero.

        The official P3D starts from ImageNet ResNet weights; from scratch vbench chooses by
        depth (default ``None``; the measurements are in docs/findings.md):

        - 63 to 199 layers (bottlenecks): zero (torchvision's ``zero_init_residual``). Their
          blocks add two branches, so the first gradients are huge with unit BNs and
          unclipped SGD diverges.
        - 18/34 (vbench's basic-block extension): unit, as every other trunk of the zoo and
          R(2+1)D. At zero, the 3D blocks start as the identity, the trunk outside them
          (temporal max-pools, 2D res5) is blind to frame order, and the net stays there.

        Loaded weights replace all of it; params, GFLOPs and the function are unchanged.
        """
        for m in self.modules():
            if isinstance(m, (nn.Conv3d, nn.Conv2d)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm3d, nn.BatchNorm2d)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, (P3DBottleneck, Bottleneck2D, P3DBasicBlock)):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock2D):
                    nn.init.zeros_(m.bn2.weight)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, H, W) -> res5 features (N, 2048, T', h, w), T' = T/16 rounded."""
        why = (": reference='port' halves time four times with floor rounding"
               if self.reference == "port" else "")
        check_video_input(x, self.min_frames, self.min_size, why)
        x = self.pool1(self.relu(self.bn1(self.conv1(x))))
        x = self.temporal_pool(self.layer1(x))
        x = self.temporal_pool(self.layer2(x))
        x = self.temporal_pool(self.layer3(x))
        n, c, t, h, w = x.shape
        x = self.layer4(x.transpose(1, 2).reshape(n * t, c, h, w))
        return x.view(n, t, *x.shape[1:]).transpose(1, 2)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Pool each remaining frame over space, average the frames, dropout, ``fc``."""
        folded = features.transpose(1, 2)  # back to (N, T', C, h, w), the memory layer4 wrote
        n, t = folded.shape[:2]
        pooled = F.adaptive_avg_pool2d(folded.flatten(0, 1), 1).view(n, t, -1).mean(dim=1)
        return self.fc(self.dropout(pooled))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        replace_linear(self, "fc", num_classes)


# The port's names inside a block -> vbench's (3D blocks of layer1-3, 2D blocks of layer4).
_PORT_BLOCK_3D = {"conv2": "conv_s", "bn2": "bn_s", "conv3": "conv_t", "bn3": "bn_t", "conv4": "conv3", "bn4": "bn3"}
_PORT_BLOCK_2D = {"conv_normal": "conv2", "bn_normal": "bn2", "conv4": "conv3", "bn4": "bn3"}
_BLOCK_KEY = re.compile(r"^layer(?P<stage>[1-4])\.(?P<index>\d+)\.(?P<part>[a-z_0-9]+)\.(?P<rest>.+)$")


def _is_port_state_dict(state_dict: dict[str, torch.Tensor]) -> bool:
    return any(k.startswith("conv1_custom.") or ".conv4." in k or ".conv_normal." in k for k in state_dict)


def p3d_port_filter(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Map a qijiezhao/pseudo-3d-pytorch state dict (``P3D199`` etc.) to vbench's keys.

    Port: ``conv1_custom``, and in the blocks of layer1-3 ``conv2/bn2`` (S), ``conv3/bn3``
    (T), ``conv4/bn4`` (expand); in layer4 ``conv_normal/bn_normal`` and ``conv4/bn4``.
    vbench: ``conv1``; ``conv_s/bn_s``, ``conv_t/bn_t``, ``conv3/bn3``; layer4 as a
    torchvision bottleneck (``conv2``, ``conv3``). A vbench state dict passes unchanged.
    """
    if not _is_port_state_dict(state_dict):
        return dict(state_dict)
    out = {}
    for key, value in state_dict.items():
        key = key.replace("conv1_custom.", "conv1.", 1) if key.startswith("conv1_custom.") else key
        match = _BLOCK_KEY.match(key)
        if match:
            names = _PORT_BLOCK_2D if match["stage"] == "4" else _PORT_BLOCK_3D
            part = names.get(match["part"], match["part"])
            key = f"layer{match['stage']}.{match['index']}.{part}.{match['rest']}"
        out[key] = value
    return out


def _build(depth: int, num_classes: int, reference: str, kinds: str, dropout: float,
           zero_init_residual: bool | None = None) -> P3DResNet:
    return P3DResNet(depth, num_classes, reference=reference, kinds=kinds, dropout=dropout,
                     zero_init_residual=zero_init_residual)


_REGISTRATION = dict(method="P3D", paper=PAPER, classifier="fc", year=2017, arxiv="1711.10305", code=CODE, family="3D",
                     frames=16, size=(160, 160), checkpoint_filter=p3d_port_filter)


@register_model(**_REGISTRATION, notes="the paper's P3D ResNet (from ResNet-152); Caffe graph, reference='port' "
                                       "for the PyTorch port's")
def p3d_r199(num_classes: int = 400, num_frames: int = 16, reference: str = "caffe", kinds: str = KINDS,
             dropout: float = 0.5) -> nn.Module:
    """P3D ResNet-199 (ResNet-152 layout, 16x160x160 clips)."""
    return _build(199, num_classes, reference, kinds, dropout)


@register_model(**_REGISTRATION, notes="P3D from ResNet-101 by the same rule (the PyTorch port's P3D131)")
def p3d_r131(num_classes: int = 400, num_frames: int = 16, reference: str = "caffe", kinds: str = KINDS,
             dropout: float = 0.5) -> nn.Module:
    """P3D-131: the same rule on ResNet-101."""
    return _build(131, num_classes, reference, kinds, dropout)


@register_model(**_REGISTRATION, depths=(18, 34, 63),
                notes="P3D from ResNet-50 by the same rule (the PyTorch port's P3D63); p3d_r18/p3d_r34 are vbench's "
                      "extension to basic blocks (in neither the paper nor the official code)")
def p3d_r63(num_classes: int = 400, num_frames: int = 16, reference: str = "caffe", kinds: str = KINDS,
            dropout: float = 0.5, depth: int = 63, zero_init_residual: bool | None = None) -> nn.Module:
    """P3D-63: the same rule on ResNet-50 (``depth=18``/``34``: vbench's basic-block extension)."""
    return _build(depth, num_classes, reference, kinds, dropout, zero_init_residual)
