"""torchvision's 3D ResNets (``torchvision.models.video``), registered as references.

``tv_r3d_18``, ``tv_mc3_18`` and ``tv_r2plus1d_18`` are the networks torchvision's
builders make, built on vbench's one 3D trunk (``vbench.models.resnet3d``, whose
``VideoResNet3D`` takes torchvision's stems and conv makers): the same modules, key
names and parameter order, so torchvision's state dicts load as they are and give the
same logits (tests/test_r2plus1d.py), and they can be profiled beside vbench's models
under the same settings. They are torchvision's implementations of the networks of
"A Closer Look at Spatiotemporal Convolutions" (arXiv 1711.11248), with torchvision's
own training recipe for their weights, and differ from the paper where noted:

- ``r2plus1d_18`` computes the (2+1)D mid-planes once per block, not per conv as the
  paper and VMZ do: 31.5M parameters instead of 33.3M (see ``vbench.models.r2plus1d``,
  whose ``midplanes="per_block"`` reproduces it exactly);
- BatchNorm eps is 1e-5 (Caffe2/VMZ: 1e-3);
- ``r3d_18`` and ``mc3_18`` match VMZ's R3D-18 and MC3-18 in parameters and GFLOPs.

Input (N, 3, T, H, W), any T and size the convolutions take; global pooling, fc.
"""

from __future__ import annotations

import torch
from torch import nn

from vbench.models.r2plus1d import IMAGENET_NOT_APPLICABLE, PAPER
from vbench.models.registry import KINETICS_MEAN, KINETICS_STD, register_model
from vbench.models.resnet3d import (
    BasicStem,
    Conv2Plus1D,
    Conv3DNoTemporal,
    Conv3DSimple,
    R2Plus1DStem,
    VideoResNet3D,
)

_REGISTRATION = dict(paper=PAPER, year=2018, arxiv="1711.11248", code="pytorch/vision (torchvision.models.video)",
                     family="3D", frames=16, size=(112, 112), classifier="fc", mean=KINETICS_MEAN, std=KINETICS_STD)


def _reference(name: str, stem: type, conv_makers: list, num_classes: int) -> VideoResNet3D:
    """The network torchvision's builder ``name`` makes: BasicBlocks, 2 a stage, mid-planes per block."""
    model = VideoResNet3D((2, 2, 2, 2), stem=stem, conv_makers=conv_makers, midplanes="per_block", bn_eps=1e-5,
                          num_classes=num_classes)
    model.imagenet_trunk_unsupported = IMAGENET_NOT_APPLICABLE.format(name=name)
    return model


def _passthrough(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    return dict(state_dict)  # torchvision's own keys


@register_model(method="R3D", **_REGISTRATION, checkpoint_filter=_passthrough,
                notes="torchvision's r3d_18; matches the paper's R3D-18 (VMZ: 33.4M, 40.7 GFLOPs at 16 frames)")
def tv_r3d_18(num_classes: int = 400, num_frames: int = 16) -> nn.Module:
    """torchvision's R3D-18: 3x3x3 convolutions throughout."""
    return _reference("r3d_18", BasicStem, [Conv3DSimple] * 4, num_classes)


@register_model(method="MC3", **_REGISTRATION, checkpoint_filter=_passthrough,
                notes="torchvision's mc3_18; matches the paper's MC3-18 (VMZ: 11.7M, 43.3 GFLOPs at 16 frames)")
def tv_mc3_18(num_classes: int = 400, num_frames: int = 16) -> nn.Module:
    """torchvision's MC3-18: 3D convolutions in layer1, 2D (1x3x3) above."""
    return _reference("mc3_18", BasicStem, [Conv3DSimple] + [Conv3DNoTemporal] * 3, num_classes)


@register_model(method="R(2+1)D", **_REGISTRATION, checkpoint_filter=_passthrough,
                notes="torchvision's r2plus1d_18: mid-planes per block, not per conv as in the paper "
                      "(31.5M vs the paper's 33.3M); = r2plus1d_r18 with midplanes='per_block'")
def tv_r2plus1d_18(num_classes: int = 400, num_frames: int = 16) -> nn.Module:
    """torchvision's R(2+1)D-18 (per-block mid-planes)."""
    return _reference("r2plus1d_18", R2Plus1DStem, [Conv2Plus1D] * 4, num_classes)
