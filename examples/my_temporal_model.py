"""MyTM: a learnable temporal conv in every residual branch of vbench's ResNet trunk.

An example of bringing your own model to vbench (docs/your-model.md walks through it):

    vbench models --plugin examples/my_temporal_model.py
    vbench profile --plugin examples/my_temporal_model.py -m mytm_r50 -m tsm_r50 -m tsn_r50

The method: TSM moves 1/8 of the channels one frame forward and 1/8 one frame back, a fixed
pattern. MyTM replaces that shift with a depthwise 1D convolution over time (kernel 3, one
filter per channel, no bias) in the same place, the residual branch's input, and starts it
at TSM's shift, so that at initialisation it is TSM (same logits) and training can then
reshape each channel's temporal filter. Cost: 3 weights per channel of each block's input
(4,416 at depth 18, 39,360 at depth 50) and 3 multiply-adds per value that enters a block.

Everything vbench needs is the builder below: the trunk (``video_resnet``) takes the module
through its ``pre`` slot (``BlockPlugins``), and ``vbench.register_model`` puts the builder in
the registry under its function name, with the depth aliases ``mytm_r18`` ... ``mytm_r101``.
"""

from __future__ import annotations

import torch
from torch import nn

import vbench
from vbench.models.resnet import DEPTHS, BlockPlugins, BlockSpec, video_resnet


class TemporalConv(nn.Module):
    """Depthwise conv over time on a folded batch (N*T, C, H, W), initialised as TSM's shift.

    Channels [0, C/8) start by reading frame t+1, [C/8, 2C/8) frame t-1, the rest frame t;
    frames beyond the clip ends read as zeros (the conv's zero padding), as in TSM.
    """

    def __init__(self, channels: int, num_frames: int, kernel_size: int = 3, shift_div: int = 8):
        super().__init__()
        self.num_frames = num_frames
        self.conv = nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels,
                              bias=False)
        centre, fold = kernel_size // 2, channels // shift_div
        weight = torch.zeros_like(self.conv.weight)  # (C, 1, k); output t = sum_j w[j] * input[t + j - centre]
        weight[:fold, 0, centre + 1] = 1  # from the next frame
        weight[fold:2 * fold, 0, centre - 1] = 1  # from the previous frame
        weight[2 * fold:, 0, centre] = 1  # unchanged
        with torch.no_grad():
            self.conv.weight.copy_(weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nt, c, h, w = x.shape
        n, t = nt // self.num_frames, self.num_frames
        y = x.view(n, t, c, h, w).permute(0, 3, 4, 2, 1).reshape(n * h * w, c, t)  # time last
        y = self.conv(y)
        return y.view(n, h, w, c, t).permute(0, 4, 3, 1, 2).reshape(nt, c, h, w)


def temporal_conv_plugins() -> BlockPlugins:
    """The temporal conv on the residual branch of every block (TSM's place)."""

    def pre(spec: BlockSpec) -> nn.Module:
        return TemporalConv(spec.in_channels, spec.num_frames)

    return BlockPlugins(pre=pre)


@vbench.register_model(
    method="MyTM", paper="unpublished", year=2025, family="mine",
    depths=DEPTHS, frames=8, size=(224, 224), num_classes=400, classifier="head.fc",
    notes="examples/my_temporal_model.py: TSM's shift made a learnable depthwise temporal conv",
)
def mytm_r50(num_classes: int = 400, num_frames: int = 8, depth: int = 50, dropout: float = 0.5,
             **options) -> nn.Module:
    """MyTM on a ResNet trunk: TSN's network with the temporal conv in every residual branch."""
    return video_resnet(depth=depth, num_classes=num_classes, num_frames=num_frames, dropout=dropout,
                        plugins=temporal_conv_plugins(), **options)
