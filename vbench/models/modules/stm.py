"""STM's two modules (Jiang et al., ICCV 2019): the channel-wise spatiotemporal module
(CSTM) and the channel-wise motion module (CMM). No official code was released; see
``vbench/models/stm.py`` for the sources of each detail.

CSTM is a channel-wise temporal conv (kernel 3) followed by the block's own 3x3 conv: in
vbench the temporal conv sits in the trunk's ``mid`` slot and the 3x3 conv, its BN and
ReLU stay the trunk's (torchvision key names). ``cstm_temporal_conv`` gives it STM's
start: the first quarter of the channels copies frame t-1, the last quarter frame t+1, the
middle half frame t.

CMM (trunk slot ``parallel``, fed the same tensor as CSTM): squeeze C to C // 16 channels
(1x1 conv + BN), a channel-wise 3x3 conv K on every frame, ``K * F(t+1) - F(t)`` with zeros
for the last frame, a 1x1 conv back to the block's width; in a strided block a 2x2 max
pool (stride 2) brings it to the strided size. Its output is added to CSTM's after the
block's BN and ReLU.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from vbench.models.modules.channelwise import ChannelwiseTemporalConv, temporal_difference


def cstm_temporal_conv(channels: int, num_frames: int) -> ChannelwiseTemporalConv:
    """CSTM's channel-wise temporal conv, started as a partial shift (1/4 back, 1/4 forward)."""
    conv = ChannelwiseTemporalConv(channels, num_frames)
    quarter = channels // 4
    conv.shift_init(from_next=slice(channels - quarter, channels), from_previous=slice(0, quarter))
    return conv


class ChannelwiseMotion(nn.Module):
    """CMM: feature-level motion ``K * F(t+1) - F(t)`` of squeezed features, expanded back."""

    def __init__(self, in_channels: int, out_channels: int, num_frames: int, *, stride: int = 1,
                 reduction: int = 16):
        super().__init__()
        reduced = in_channels // reduction
        self.num_frames = num_frames
        self.stride = stride
        self.reduce = nn.Conv2d(in_channels, reduced, 1, bias=False)
        self.reduce_bn = nn.BatchNorm2d(reduced)
        self.transform = nn.Conv2d(reduced, reduced, 3, padding=1, groups=reduced, bias=False)
        self.restore = nn.Conv2d(reduced, out_channels, 1, bias=False)

    def motion(self, x: torch.Tensor) -> torch.Tensor:
        """``K * F(t+1) - F(t)`` of the squeezed features, (N*T, C/r, H, W); zeros at the last frame."""
        squeezed = self.reduce_bn(self.reduce(x))
        return temporal_difference(self.transform(squeezed), squeezed, self.num_frames)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.restore(self.motion(x))
        return out if self.stride == 1 else strided_max_pool(out, self.stride)


def strided_max_pool(x: torch.Tensor, stride: int) -> torch.Tensor:
    """``stride`` x ``stride`` max pool with that stride; ``ceil_mode`` gives the strided 3x3 conv's
    output size for odd sizes too.

    On the CPU the NCHW max-pool kernel is 2 to 25 times slower than pooling a channels-last
    copy and copying back (same values; benchmarks/motion_ops.py), so the CPU takes that route.
    """
    if x.is_cpu:
        pooled = F.max_pool2d(x.contiguous(memory_format=torch.channels_last), stride, stride, ceil_mode=True)
        return pooled.contiguous()
    return F.max_pool2d(x, stride, stride, ceil_mode=True)
