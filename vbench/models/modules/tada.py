"""TAdaConv (Huang et al., ICLR 2022): a 2D conv whose kernel is recalibrated for every frame.

The weight used on frame t is ``W_t = alpha_t * W_b``: the shared base weight ``W_b`` (the
ImageNet conv's) scaled per *input* channel by ``alpha_t``, which a small calibration branch
computes from the frame's temporal context. Read from alibaba-mmai-research/TAdaConv,
``tadaconv/models/module_zoo/ops/tadaconv.py`` (``RouteFuncMLP``, ``TAdaConv2d`` with its
default ``cal_dim="cin"``) and ``branches/tada_branch.py`` (``TAda2DBlock``):

- frame descriptors: spatial global average pool of the conv's input, (N, C, T);
- global context: the video descriptor (average over T) through a 1x1 conv ``g`` (with
  bias), added to every frame descriptor;
- local context: temporal conv ``a`` (kernel 3, C -> C/4, with bias), BN, ReLU, temporal
  conv ``b`` (kernel 3, C/4 -> C, no bias); ``alpha = b(...) + 1``;
- ``b`` starts at zero, so ``alpha`` starts at exactly 1: at initialisation TAdaConv is the
  plain conv with the same base weight.

Per-frame kernels, fast: since ``alpha`` scales input channels, the conv of frame t with
``alpha_t * W_b`` equals the shared conv applied to ``alpha_t * x_t``. vbench multiplies the
input (one broadcast over H x W) and runs one ordinary conv over the folded batch, instead of
the official grouped conv with N*T groups over per-frame weights. Same values (to float
rounding) and the same multiply-accumulates for the conv (fvcore counts a grouped conv by its
weight shape: the same figure, tests/test_tada2d.py). On the CPU it is about as fast on
layer1-2 and several times faster on layer3-4 (``benchmarks/tada_variants.py``; figures in
docs/findings.md). The multiplication is elementwise, as is the official weight scaling:
neither counts as MACs.

The temporal feature aggregation of TAda2D (``TemporalAggregationNorm``, the ``spatial_norm``
slot): ``BN(y) + BN_pool(avgpool_t(y))`` on the conv output y, with an average pool over
time of kernel 3 (stride 1, zero padding counted, as ``nn.AvgPool3d``'s default) and its
own BN whose weight and bias start at zero. Any frame count works; vbench asks for 2 or more.

Frame order: that average is symmetric in time, so a TAda2D whose calibration is inert gives
a clip and its reversal the same logits (tested). The calibration's temporal convs are the
one order-sensitive path, and they read *spatially averaged* frame descriptors: motion that
moves a small object without changing a frame's global statistics hardly reaches them (the
synthetic benchmark's directions). Motion that does change them reaches them: TAda2D learns
order on the benchmark's scale set (README's synthetic section, ``results/synthetic-scale``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class CalibrationBranch(nn.Module):
    """Frames (N*T, C, H, W) -> per-frame, per-channel calibration factors alpha (N*T, C).

    Official name ``RouteFuncMLP`` (keys ``b_rf.{g,a,bn,b}``); its convs are Conv3d with
    kernels (k, 1, 1) on (N, C, T, 1, 1), here the equivalent Conv1d on (N, C, T).
    """

    def __init__(self, channels: int, num_frames: int, ratio: int = 4, kernels: tuple[int, int] = (3, 3)):
        super().__init__()
        self.num_frames = num_frames
        hidden = channels // ratio
        self.g = nn.Conv1d(channels, channels, 1)
        self.a = nn.Conv1d(channels, hidden, kernels[0], padding=kernels[0] // 2)
        self.bn = nn.BatchNorm1d(hidden)
        self.relu = nn.ReLU(inplace=True)
        self.b = nn.Conv1d(hidden, channels, kernels[1], padding=kernels[1] // 2, bias=False)
        self.init_weights()

    def init_weights(self) -> None:
        # official: kaiming (fan_out) for g and a, biases zero; b zero so that alpha starts at 1
        for conv in (self.g, self.a):
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(conv.bias)
        nn.init.ones_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)
        nn.init.zeros_(self.b.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nt, c = x.shape[:2]
        frames = F.adaptive_avg_pool2d(x, 1).view(nt // self.num_frames, self.num_frames, c).transpose(1, 2)
        video = frames.mean(dim=2, keepdim=True)  # the mean of equal-sized frame means: the global pool
        hidden = self.relu(self.bn(self.a(frames + self.g(video))))
        alpha = self.b(hidden) + 1
        return alpha.transpose(1, 2).reshape(nt, c)


class TAdaConv2d(nn.Conv2d):
    """A 2D conv with per-frame kernels ``alpha_t * W`` (input-channel calibration).

    A subclass of ``nn.Conv2d`` so that ``weight`` keeps torchvision's key and shape (an
    ImageNet ResNet loads into it) and the trunk's initialisation treats it as a conv.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1, *,
                 num_frames: int, ratio: int = 4, kernels: tuple[int, int] = (3, 3)):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2, bias=False)
        self.num_frames = num_frames
        self.calibration = CalibrationBranch(in_channels, num_frames, ratio, kernels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = self.calibration(x)
        return self._conv_forward(x * alpha[:, :, None, None], self.weight, self.bias)


def temporal_avg_pool(x: torch.Tensor, num_frames: int, kernel: int = 3) -> torch.Tensor:
    """Average over ``kernel`` neighbouring frames of (N*T, C, H, W), zeros past the clip ends
    counted (``nn.AvgPool3d((k, 1, 1), 1, (k // 2, 0, 0))`` on (N, C, T, H, W), as official).

    Written as shifted in-place adds over the folded batch: on the CPU about a hundred times
    faster than ``avg_pool3d`` (or ``avg_pool2d`` with a (k, 1) window) on TAda2D's shapes
    (benchmarks/tada_variants.py, docs/findings.md). fvcore sees adds
    (elementwise ops), not a pool; the paper's figure counts neither (convs and fc only).
    """
    nt, c, h, w = x.shape
    frames = x.reshape(nt // num_frames, num_frames, c * h * w)
    out = frames.clone()
    for offset in range(1, kernel // 2 + 1):
        out[:, offset:].add_(frames[:, :-offset])
        out[:, :-offset].add_(frames[:, offset:])
    return out.div_(kernel).view(nt, c, h, w)


class TemporalAggregationNorm(nn.BatchNorm2d):
    """TAda2D's norm after the TAdaConv: ``BN(y) + BN_pool(avgpool_t(y))``.

    Its own parameters are the main BN's (torchvision's ``bn2`` keys); ``pool_bn`` is the
    aggregation's BN (official ``b_avgpool_bn``), zero-initialised so the block starts as
    the plain block.
    """

    def __init__(self, channels: int, num_frames: int, kernel: int = 3):
        super().__init__(channels)
        self.num_frames = num_frames
        self.kernel = kernel
        self.pool_bn = nn.BatchNorm2d(channels)
        self.init_weights()

    def init_weights(self) -> None:
        nn.init.zeros_(self.pool_bn.weight)
        nn.init.zeros_(self.pool_bn.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) + self.pool_bn(temporal_avg_pool(x, self.num_frames, self.kernel))
