"""ECA: Efficient Channel Attention (Wang et al., CVPR 2020, arXiv 1910.03151).

Global average pooling to one value a channel, a 1D convolution of kernel k across
neighbouring channels (one input and one output channel, no bias, no dimensionality
reduction), a sigmoid, and a channel-wise rescaling of the input. k parameters and
C*k multiply-adds for the convolution; the pooling reads every input element once.

The kernel size can follow the paper's adaptive rule ``psi(C)`` (``eca_kernel_size``)
or be given per stage, as the released ImageNet checkpoints of the official code
(BangguWu/ECANet, ``models/eca_module.py``, ``--ksize 3557``) were trained. Not a
temporal module: it works on each image (or folded frame) on its own.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from vbench.models.attention import AttentionModule


def eca_kernel_size(channels: int, gamma: int = 2, b: int = 1) -> int:
    """The paper's adaptive kernel size: |log2(C)/gamma + b/gamma|, made odd.

    The paper writes "the nearest odd number"; its code (Fig. 3 of arXiv v4 and the
    authors' later releases) takes the integer part and adds one when it is even,
    which is what this returns (C=256: 4.5 -> 4 -> 5; C=2048: 6 -> 7).
    """
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 else t + 1


class EfficientChannelAttention(AttentionModule):
    """x * sigmoid(conv1d_k(GAP(x))) over the channel axis; for the trunk's ``post`` slot.

    Key name ``conv`` as in the official ``eca_layer``, so its checkpoints map by the
    block's slot name alone. An ``AttentionModule``: DREAL observes and removes its map.
    """

    def __init__(self, channels: int, kernel_size: int | None = None):
        super().__init__()
        kernel_size = kernel_size or eca_kernel_size(channels)
        if kernel_size % 2 == 0:
            raise ValueError(f"ECA needs an odd kernel size (same-length output), got {kernel_size}")
        self.channels = channels
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=(kernel_size - 1) // 2, bias=False)

    @property
    def kernel_size(self) -> int:
        return self.conv.kernel_size[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        weights = self.conv(F.adaptive_avg_pool2d(x, 1).view(n, 1, c))  # (N, 1, C)
        return self.apply_attention(x, torch.sigmoid(weights).view(n, c, 1, 1))

    def extra_repr(self) -> str:
        return f"channels={self.channels}, kernel_size={self.kernel_size}"
