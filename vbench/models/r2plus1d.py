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
PyTorch models also use, so their state dicts load as they are. The network is vbench's
one 3D trunk (``vbench.models.resnet3d.VideoResNet3D``) with the (2+1)D stem and conv
maker; the mid-plane layout is its ``midplanes`` argument.

BatchNorm eps: Caffe2/VMZ use 1e-3 (``spatial_bn`` epsilon, and VMZ's PyTorch models set
``eps = 1e-3``), torchvision 1e-5. ``bn_eps=None`` takes the value of the reference the
mid-plane layout follows: 1e-3 for the paper's ("per_conv"), 1e-5 for "per_block".

Frames and sizes: any T >= 1 and H, W >= 1 (every conv pads; three stride-2 stages
take T to ceil(T/8)). R(2+1)D-34 defaults to the paper's 32-frame clips (Table 5).
"""

from __future__ import annotations

import torch
from torch import nn

from vbench.errors import VbenchError
from vbench.models.registry import KINETICS_MEAN, KINETICS_STD, register_model
from vbench.models.resnet3d import MIDPLANES, Conv2Plus1D, R2Plus1DStem, VideoResNet3D

PAPER = "A Closer Look at Spatiotemporal Convolutions for Action Recognition"
CODE = "facebookresearch/VMZ"
STAGES = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}
IMAGENET_NOT_APPLICABLE = ("{name} is a 3D network: the 2D trunk's ImageNet initialisation (pretrained=) does not "
                           "apply to it. Load a video checkpoint with vbench.models.load_checkpoint instead.")


class R2Plus1D(VideoResNet3D):
    """R(2+1)D-18/34: the 3D trunk (``resnet3d``) with the (2+1)D stem and (2+1)D convs."""

    imagenet_trunk_unsupported = IMAGENET_NOT_APPLICABLE.format(name="R(2+1)D")

    def __init__(self, depth: int = 18, num_classes: int = 400, *, midplanes: str = "per_conv",
                 bn_eps: float | None = None, dropout: float = 0.0):
        if depth not in STAGES:
            raise VbenchError(f"R(2+1)D is built at depth {' or '.join(map(str, STAGES))}, not {depth}")
        if midplanes not in MIDPLANES:
            raise VbenchError(f"midplanes must be one of {', '.join(MIDPLANES)}, got '{midplanes}'")
        eps = bn_eps if bn_eps is not None else (1e-5 if midplanes == "per_block" else 1e-3)
        super().__init__(STAGES[depth], stem=R2Plus1DStem, conv_makers=[Conv2Plus1D] * 4, midplanes=midplanes,
                         bn_eps=eps, num_classes=num_classes, dropout=dropout)


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
