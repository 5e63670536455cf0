"""TEA's two modules (Li et al., CVPR 2020): motion excitation (ME) and multiple temporal
aggregation (MTA), as the official code builds them (Phoenix1327/tea-action-recognition,
``ops/tea50_8f.py``: ``MEModule``, ``ShiftModule``, ``Bottle2neckShift``).

ME (trunk slot ``mid``): squeeze C to C // 16 channels (1x1 conv + BN), pass the squeezed
features through a channel-wise 3x3 conv K, take ``K * X(t+1) - X(t)`` (zeros for the last
frame), average over space, expand back to C (1x1 conv + BN), sigmoid, and excite:
``X + X * (sigmoid - 0.5)``. The ``- 0.5`` is the code's; the paper's description (as
vbench's methods page summarises it; the paper body was not at hand) is ``X + X * A``. With
it a zero motion gives a factor of exactly 1, so a block whose motion is zero passes its
features through unchanged.

Speed: spatial averaging is linear, so the mean of ``K * X(t+1) - X(t)`` equals the mean of
``K * X(t+1)`` minus the mean of ``X(t)``; vbench averages the two maps first and differences
the (N*T, C/16) vectors, instead of subtracting, zero-padding and averaging full maps as the
official code does (benchmarks/motion_ops.py; docs/findings.md).
``X + X * (s - 0.5)`` is computed as one multiply ``X * (s + 0.5)``.

MTA (trunk slot ``spatial``, replacing the 3x3 conv): the input is split into ``scale`` (4)
fragments along channels (Res2Net, ``width`` channels each). In an ordinary block fragment
i (i < scale-1) is ``conv_i(temporal_i(x_i + y_{i-1}))`` followed by its own BN and ReLU
(y_{-1} = 0), so later fragments see the earlier ones' output: the hierarchy. The last
fragment is not convolved in space: it only goes through its channel-wise temporal conv
(no BN, no ReLU). In the first block of every stage (Res2Net's ``stype='stage'``) the
fragments do not add their predecessor's output, the convs carry the stride, and the last
fragment is averaged by a 3x3 pool with that stride (even at stride 1). Temporal convs of
the convolved fragments start as the identity (``mode='fixed'``), the last fragment's as a
shift (``mode='shift'``, ``n_div=2``: first half from frame t+1, second half from t-1).
The paper's description (per the methods page) lets the first fragment pass through,
without a temporal conv; the code's is the last and has one: vbench follows the code.

Speed: the fragments' outputs are concatenated once (the official code concatenates after
every fragment). The three convs of a stage-first block are independent and could run as
one grouped conv, but on the CPU that was slower (docs/findings.md), so they stay separate.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from vbench.models.attention import AttentionModule
from vbench.models.modules.channelwise import ChannelwiseTemporalConv, temporal_difference


class MotionExcitation(AttentionModule):
    """ME: excite the channels of ``x`` (N*T, C, H, W) by its feature-level motion."""

    def __init__(self, channels: int, num_frames: int, reduction: int = 16):
        super().__init__()
        reduced = channels // reduction
        self.num_frames = num_frames
        self.conv1 = nn.Conv2d(channels, reduced, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(reduced)
        self.conv2 = nn.Conv2d(reduced, reduced, 3, padding=1, groups=reduced, bias=False)
        self.conv3 = nn.Conv2d(reduced, channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(channels)

    def motion(self, x: torch.Tensor) -> torch.Tensor:
        """Spatially averaged ``K * X(t+1) - X(t)`` of the squeezed features, (N*T, C/r, 1, 1)."""
        squeezed = self.bn1(self.conv1(x))
        moved = F.adaptive_avg_pool2d(self.conv2(squeezed), 1)
        return temporal_difference(moved, F.adaptive_avg_pool2d(squeezed, 1), self.num_frames)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.bn3(self.conv3(self.motion(x))))
        return self.apply_attention(x, gate + 0.5)  # x + x * (gate - 0.5) in one pass


class MultipleTemporalAggregation(nn.Module):
    """MTA: Res2Net's hierarchical 3x3 convs, each fragment behind a channel-wise temporal conv.

    ``in_channels`` and ``out_channels`` are split into ``scale`` fragments. Where the two
    differ (only in vbench's depth-18/34 basic blocks, at the first block of stages 2-4) no
    fragment can pass through unchanged in width, so the last one is convolved like the
    others; the bottleneck (the official TEA) always has equal widths.
    """

    def __init__(self, in_channels: int, out_channels: int, num_frames: int, *, stride: int = 1,
                 scale: int = 4, stage_first: bool = False):
        super().__init__()
        if in_channels % scale or out_channels % scale:
            raise ValueError(f"MTA splits channels into {scale} fragments: {in_channels} and {out_channels} "
                             f"must be multiples of {scale}")
        width, out_width = in_channels // scale, out_channels // scale
        self.width = width
        self.stage_first = stage_first
        self.passes_through = width == out_width
        convolved = scale - 1 if self.passes_through else scale
        self.temporal = nn.ModuleList(ChannelwiseTemporalConv(width, num_frames) for _ in range(scale))
        self.convs = nn.ModuleList(nn.Conv2d(width, out_width, 3, stride, 1, bias=False) for _ in range(convolved))
        self.bns = nn.ModuleList(nn.BatchNorm2d(out_width) for _ in range(convolved))
        self.pool = nn.AvgPool2d(3, stride, 1) if stage_first and self.passes_through else None
        half = width // 2
        self.temporal[-1].shift_init(from_next=slice(0, half), from_previous=slice(half, 2 * half))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fragments = x.split(self.width, 1)
        outputs = []
        for i, (temporal, conv, bn) in enumerate(zip(self.temporal, self.convs, self.bns)):
            chained = i > 0 and not self.stage_first
            part = fragments[i] + outputs[-1] if chained else fragments[i]
            outputs.append(F.relu(bn(conv(temporal(part))), inplace=True))
        if self.passes_through:
            last = self.temporal[-1](fragments[-1])
            outputs.append(last if self.pool is None else self.pool(last))
        return torch.cat(outputs, 1)
