"""STM: SpatioTemporal and Motion encoding (Jiang et al., ICCV 2019, arXiv 1908.02486).

No official code was released. Sources, and what each gave:

- the paper's method and implementation sections, as summarised section by section in a
  public reading note (mna12478.github.io, ``source/_posts/action_16.md``; the paper body
  itself was not at hand): every residual block of ResNet-50 becomes an STM block (all 16);
  after the block's first 1x1 conv, CSTM and CMM run on the same features and their sum
  goes to the last 1x1 conv (summation was better than concatenation); CSTM is a
  channel-wise (groups = C) temporal 1D conv of kernel 3 on the (N*H*W, C, T) view, then
  a 3x3 2D conv; CMM squeezes channels by r = 16 with a 1x1 conv, takes
  ``K * F(t+1) - F(t)`` with K a channel-wise 3x3 2D conv, gives the last frame zeros, and
  restores the channels with a 1x1 conv; CSTM's temporal conv starts as [1, 0, 0] on the
  first quarter of the channels, [0, 0, 1] on the last quarter and [0, 1, 0] on the middle
  half, CMM's weights start random; ImageNet-initialised ResNet-50, TSN training and head;
  8 or 16 frames at 224 x 224; 10 clips x 3 crops at test.
- an unofficial implementation whose files name the paper's first author in their header
  (``STM.py``/``CMM.py``, "@Author: Boyuan Jiang", found in the public code index; its
  repository could not be identified), used only where the paper is silent:
  a BN after CMM's squeezing conv and none after its restoring conv; CMM's output added
  after CSTM's BN and ReLU (the block's ``bn2``/``relu``), with no norm on the sum; in a
  strided block, CMM's output max-pooled 2x2 with stride 2. It agrees with the summary
  on everything the summary states (including the channel-wise K and the temporal init).
  A second unofficial reading (a ``CSTM``/``CMM``/``STM`` module file in the same index)
  uses a full 3x3 conv for K and puts a BN on the sum; vbench follows the paper's
  "channel-wise" and the first author's placement.

vbench choices where both are silent: the shortcut is torchvision's 1x1 strided
projection (the first author's file does the same); ``ceil_mode`` on CMM's max pool, so
that odd feature sizes (e.g. 112 px inputs) meet the strided conv's output size (equal
for even sizes, hence for 224 px).

In the trunk: CSTM's temporal conv is the ``mid`` slot (key ``layerK.i.mid.weight``, shape
(C, 1, 3)), its 3x3 conv, BN and ReLU are the block's own (torchvision names, so a
torchvision ImageNet ResNet loads with ``pretrained=``), CMM is the ``parallel`` slot
(``layerK.i.parallel.{reduce,reduce_bn,transform,restore}``). At depth 18/34 (basic
blocks) CSTM wraps the block's first 3x3 conv and CMM runs beside it, from the block
input to the conv's output width.

No official checkpoint exists, so there is no converter: vbench's own keys only.
"""

from __future__ import annotations

from torch import nn

from vbench.models.common import require_motion_frames
from vbench.models.registry import register_model
from vbench.models.resnet import DEPTHS, BlockPlugins, BlockSpec, video_resnet
from vbench.models.modules.stm import ChannelwiseMotion, cstm_temporal_conv

STM_PAPER = "STM: SpatioTemporal and Motion Encoding for Action Recognition"


def stm_plugins(reduction: int = 16) -> BlockPlugins:
    """CSTM's temporal conv before the spatial conv, CMM beside it."""

    def temporal(spec: BlockSpec) -> nn.Module:
        return cstm_temporal_conv(spec.width, spec.num_frames)

    def motion(spec: BlockSpec) -> nn.Module:
        return ChannelwiseMotion(spec.width, spec.spatial_out, spec.num_frames, stride=spec.stride,
                                 reduction=reduction)

    return BlockPlugins(mid=temporal, parallel=motion)


@register_model(
    classifier="head.fc", method="STM", paper=STM_PAPER, year=2019, arxiv="1908.02486", code="none released (unofficial readings exist)",
    family="motion", depths=DEPTHS,
    notes="no official code; open details as a first-author-attributed file",
)
def stm_r50(num_classes: int = 400, num_frames: int = 8, depth: int = 50, dropout: float = 0.5,
            reduction: int = 16, **options) -> nn.Module:
    """STM: CSTM and CMM in every block of a ResNet; TSN head."""
    require_motion_frames(num_frames, "STM")
    return video_resnet(depth=depth, num_classes=num_classes, num_frames=num_frames, dropout=dropout,
                        plugins=stm_plugins(reduction), **options)
