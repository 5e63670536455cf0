"""ECA-Net: Efficient Channel Attention for Deep CNNs (Wang et al., CVPR 2020, arXiv 1910.03151).

An ECA module (``vbench.models.modules.eca``) after the last conv and BN of every
residual block, before the sum with the shortcut (the trunk's ``post`` slot), as in the
official ``ECABottleneck``/``ECABasicBlock`` (BangguWu/ECANet, ``models/eca_resnet.py``).
The trunk is torchvision's ResNet layout, stride in the 3x3 conv, as the official code.

Kernel sizes. The paper's rule psi(C) (gamma=2, b=1) gives 5, 5, 5, 7 for the four
stages of ResNet-50 (256, 512, 1024, 2048 channels): 86 parameters. The official code
does not compute psi: ``eca_resnet50(k_size=...)`` takes one kernel a stage from the
command line (``main.py --ksize 3557``), and the README's released checkpoints are named
by them: ResNet-18 k3577, ResNet-34 k3357, ResNet-50 k3557, ResNet-101 k3357. vbench
follows the released checkpoints by default (``kernel_sizes=None``), because they are
the weights a user can load and because ResNet-50's k3557 gives exactly the abstract's
80 parameters (3x3 + 4x5 + 6x5 + 3x7); ``kernel_sizes="adaptive"`` gives psi(C), and a
string such as ``"3557"`` or a 4-tuple sets the stages by hand.

Figures. The README's 24.37M and 3.86G are thop counts of the official script
``paras_flops.py``, printed in binary units (it divides by 2^20 and 2^30): ResNet-50's
25.56M parameters are 24.37 "M". They are not a different layout.

``eca_r50`` is the paper's ImageNet classifier (input (N, 3, H, W), 1000 classes);
``tsn_eca_r50`` is a video model of vbench's own: TSN (per-frame network, average
consensus) on an ECA-ResNet-50 trunk, which an official ImageNet ECA checkpoint can
initialise (``create_model("tsn_eca_r50", pretrained="eca_resnet50_k3557.pth.tar")``).
The paper has no video experiments.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from vbench.errors import VbenchError
from vbench.models.common import tsm_codebase_filter
from vbench.models.registry import register_model
from vbench.models.resnet import DEPTHS, BlockPlugins, BlockSpec, ImageResNet, video_resnet
from vbench.models.modules.eca import EfficientChannelAttention, eca_kernel_size

ECA_PAPER = "ECA-Net: Efficient Channel Attention for Deep Convolutional Neural Networks"
ECA_CODE = "BangguWu/ECANet"

# Per-stage kernels of the official README's released ImageNet checkpoints.
RELEASED_KERNELS = {18: (3, 5, 7, 7), 34: (3, 3, 5, 7), 50: (3, 5, 5, 7), 101: (3, 3, 5, 7)}


def stage_kernel_sizes(depth: int, kernel_sizes: str | tuple[int, ...] | None) -> tuple[int, ...] | None:
    """Kernel of each stage; None means psi(C) in every block ("adaptive")."""
    if kernel_sizes is None:
        return RELEASED_KERNELS[depth]
    if kernel_sizes == "adaptive":
        return None
    sizes = tuple(int(k) for k in kernel_sizes)
    if len(sizes) != 4 or any(k < 1 or k % 2 == 0 for k in sizes):
        raise VbenchError(f"kernel_sizes must be four odd numbers, one a stage (e.g. '3557'), or 'adaptive'; "
                          f"got {kernel_sizes!r}")
    return sizes


def eca_plugins(depth: int, kernel_sizes: str | tuple[int, ...] | None = None) -> BlockPlugins:
    """ECA after the last BN of every block (the ``post`` slot)."""
    sizes = stage_kernel_sizes(depth, kernel_sizes)

    def eca(spec: BlockSpec) -> nn.Module:
        k = sizes[spec.stage - 1] if sizes else eca_kernel_size(spec.out_channels)
        return EfficientChannelAttention(spec.out_channels, k)

    return BlockPlugins(post=eca)


def eca_filter(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Map an official ECA-ResNet checkpoint to vbench's keys.

    Official keys (``models/eca_resnet.py``; the ``module.`` prefix of its DataParallel
    checkpoints is stripped by the loader): ``layer1.0.eca.conv.weight`` (1, 1, k) and
    torchvision's names for the rest. vbench's: ``layer1.0.post.conv.weight``.
    """
    return {re.sub(r"^(layer\d+\.\d+)\.eca\.", r"\1.post.", k): v for k, v in state_dict.items()}


def tsn_eca_filter(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """ECA keys as ``eca_filter``, and a TSN checkpoint of the TSM code base (``base_model.``, ``new_fc``)."""
    return eca_filter(tsm_codebase_filter(state_dict, model), model)


@register_model(
    method="ECA-Net", paper=ECA_PAPER, year=2020, arxiv="1910.03151", code=ECA_CODE,
    family="attention", task="image classification", input="image", frames=1, num_classes=1000, classifier="fc",
    depths=DEPTHS, checkpoint_filter=eca_filter,
    notes="ImageNet classifier; released per-stage kernels (k3557)",
)
def eca_r50(num_classes: int = 1000, depth: int = 50, kernel_sizes: str | tuple[int, ...] | None = None,
            **trunk) -> nn.Module:
    """ECA-ResNet image classifier (torchvision layout, global pool, ``fc``)."""
    return ImageResNet(depth, num_classes=num_classes, plugins=eca_plugins(depth, kernel_sizes), **trunk)


@register_model(
    method="ECA-Net", paper=ECA_PAPER, year=2020, arxiv="1910.03151", code=ECA_CODE,
    family="attention", depths=DEPTHS, checkpoint_filter=tsn_eca_filter, classifier="head.fc",
    notes="TSN on an ECA-ResNet trunk (no video models in the paper)",
)
def tsn_eca_r50(num_classes: int = 400, num_frames: int = 8, depth: int = 50, dropout: float = 0.5,
                kernel_sizes: str | tuple[int, ...] | None = None, **options) -> nn.Module:
    """TSN with ECA in every block of its trunk."""
    return video_resnet(depth=depth, num_classes=num_classes, num_frames=num_frames, dropout=dropout,
                        plugins=eca_plugins(depth, kernel_sizes), **options)
