"""TSI's two modules (Su et al., arXiv 2106.01088), as reconstructed by vbench.

No public code and no readable paper body exist; the design follows the abstract and the
family TSI builds on, and every choice is explained in ``vbench/models/tsi.py``.

- ``SalientMotionExcitation`` (SME): saliency-weighted differences of neighbouring
  frames, modelled at three spatial levels (local, half resolution, global), excite the
  features where they move: ``x + x * (sigmoid(motion) - 0.5)``. A clip that does not
  move gives zero motion and passes through unchanged.
- ``CrossPerceptionTemporalIntegration`` (CTI): channel-wise temporal 1D convolutions of
  several kernel sizes ("perceptions"), combined by a softmax attention over the
  perceptions (selective-kernel style, per sample and channel); it starts as TSM's
  shift, as TDN's single temporal conv does.

Both work on folded frames ``(N*T, C, H, W)`` and keep that shape.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from vbench.errors import VbenchError
from vbench.models.attention import AttentionModule


def _unfold(x: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(N*T, ...) -> (N, T, ...), a view."""
    return x.view(x.shape[0] // num_frames, num_frames, *x.shape[1:])


class SalientMotionExcitation(AttentionModule):
    """SME: excite the features where neighbouring frames differ on salient regions.

    ``channels -> channels // reduction`` (1x1 conv + BN); a one-channel saliency map of
    each frame (3x3 conv, sigmoid) weights that frame's reduced features; the difference
    of frame t+1 and frame t is the motion of frame t (the last frame has none); three
    bias-free levels model it: a 3x3 conv at full resolution (local), a 3x3 conv at half
    resolution upsampled back, and a 1x1 conv of its global average (global); their sum,
    expanded back to ``channels`` (1x1 conv), gives ``A = sigmoid(.) - 0.5`` and the
    output ``x + x * A``. No bias and no norm act after the difference, so zero motion
    gives ``A = 0`` exactly.
    """

    def __init__(self, channels: int, num_frames: int, reduction: int = 16):
        super().__init__()
        if num_frames < 2:
            raise VbenchError(f"SME compares neighbouring frames and needs at least 2 frames, got {num_frames}")
        self.num_frames = num_frames
        reduced = max(channels // reduction, 1)
        self.reduce = nn.Conv2d(channels, reduced, 1, bias=False)
        self.reduce_bn = nn.BatchNorm2d(reduced)
        self.saliency = nn.Conv2d(reduced, 1, 3, padding=1)
        self.local_conv = nn.Conv2d(reduced, reduced, 3, padding=1, bias=False)
        self.coarse_conv = nn.Conv2d(reduced, reduced, 3, padding=1, bias=False)
        self.global_conv = nn.Conv2d(reduced, reduced, 1, bias=False)
        self.expand = nn.Conv2d(reduced, channels, 1, bias=False)

    def motion(self, x: torch.Tensor) -> torch.Tensor:
        """Pyramidal motion of frames 0..T-2 (shape (N*(T-1), C', H, W)), before expansion."""
        reduced = self.reduce_bn(self.reduce(x))
        salient = _unfold(reduced * torch.sigmoid(self.saliency(reduced)), self.num_frames)
        diff = (salient[:, 1:] - salient[:, :-1]).flatten(0, 1)
        h, w = diff.shape[-2:]
        coarse = F.adaptive_avg_pool2d(diff, ((h + 1) // 2, (w + 1) // 2))
        coarse = F.interpolate(self.coarse_conv(coarse), size=(h, w), mode="nearest")
        overall = self.global_conv(F.adaptive_avg_pool2d(diff, 1))
        return self.local_conv(diff) + coarse + overall

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x + x * (sigmoid(m) - 0.5) written as x * (sigmoid(m) + 0.5): one pass fewer
        scale = _unfold(torch.sigmoid(self.expand(self.motion(x))) + 0.5, self.num_frames - 1)
        if not self.attention_active(scale):
            return x
        frames = _unfold(x, self.num_frames)
        # the last frame has no motion and passes unchanged
        return torch.cat((frames[:, :-1] * scale, frames[:, -1:]), dim=1).view(x.shape)

    def extra_repr(self) -> str:
        return f"num_frames={self.num_frames}"


class CrossPerceptionTemporalIntegration(nn.Module):
    """CTI: channel-wise temporal convolutions of several kernel sizes, mixed by attention.

    With branch outputs ``U_k = w_k * x`` (kernel ``kernel_sizes[k]``, one kernel per
    channel, zero padding at the clip ends), the output is ``sum_k a_k U_k``, where
    ``a = softmax_k(fc(relu(fc(z))))`` per sample and channel and ``z`` is the global
    average of ``sum_k U_k`` (selective-kernel attention, with SE's bias instead of a
    norm in the squeeze so that it trains at batch 1).

    Computed without running the branches one by one: ``z`` is exact from the spatially
    pooled clip (a temporal conv commutes with spatial averaging), and since ``a`` does
    not vary over time or space, ``sum_k a_k (w_k * x) = (sum_k a_k w_k) * x``: one
    depthwise temporal conv with a per-sample kernel of the largest size. That conv runs
    as a batched matmul with its T x T band (Toeplitz) matrix: on the CPU, oneDNN's
    depthwise conv along T is slow for some shapes (tens of ms at 64 x 56 x 56) where the
    matmul takes about 1 ms; the cost is T instead of ``span`` MACs per output, as
    counted. ``benchmarks/tsi_cti_variants.py`` checks this against the branch-by-branch
    form and times both.
    Every branch starts as TSM's shift (1/``shift_div`` of the channels each way), so CTI
    starts as TSM's shift whatever the attention.
    """

    def __init__(self, channels: int, num_frames: int, kernel_sizes: tuple[int, ...] = (3, 5, 7),
                 reduction: int = 16, min_hidden: int = 32, shift_div: int = 8):
        super().__init__()
        if not kernel_sizes or any(k < 1 or k % 2 == 0 for k in kernel_sizes):
            raise VbenchError(f"CTI kernel sizes must be odd positive numbers, got {tuple(kernel_sizes)}")
        self.num_frames = num_frames
        self.channels = channels
        self.kernel_sizes = tuple(kernel_sizes)
        self.span = max(kernel_sizes)
        self.shift_div = shift_div
        # all branches' taps in one tensor: (channels, sum of kernel sizes)
        self.weight = nn.Parameter(torch.zeros(channels, sum(kernel_sizes)))
        self.register_buffer("placement", self._placement(self.kernel_sizes, self.span), persistent=False)
        self.register_buffer("band", self._band(self.span, num_frames), persistent=False)
        hidden = max(channels // reduction, min_hidden)
        self.squeeze = nn.Linear(channels, hidden)
        self.select = nn.Linear(hidden, len(kernel_sizes) * channels)
        self.init_weights()

    @staticmethod
    def _placement(kernel_sizes: tuple[int, ...], span: int) -> torch.Tensor:
        """0/1 map (taps, branches, span): where each stored tap sits in its branch's
        centred kernel of the largest size."""
        placement = torch.zeros(sum(kernel_sizes), len(kernel_sizes), span)
        tap = 0
        for branch, size in enumerate(kernel_sizes):
            start = (span - size) // 2
            for j in range(size):
                placement[tap, branch, start + j] = 1.0
                tap += 1
        return placement

    @staticmethod
    def _band(span: int, num_frames: int) -> torch.Tensor:
        """0/1 map (span, T, T): tap j of a centred kernel takes frame t + j - span // 2 into
        frame t (taps that fall outside the clip are dropped: zero padding)."""
        taps = torch.arange(span).view(span, 1, 1)
        t = torch.arange(num_frames).view(1, num_frames, 1)
        s = torch.arange(num_frames).view(1, 1, num_frames)
        return (s == t + taps - span // 2).float()

    def init_weights(self) -> None:
        with torch.no_grad():
            self.weight.copy_(self.shift_taps())

    def shift_taps(self) -> torch.Tensor:
        """Every branch as TSM's shift (TDN's initialisation of its temporal conv): the
        first C/8 channels take frame t+1, the next C/8 frame t-1, the rest stay
        (a kernel of size 1 can only keep its frame)."""
        taps = torch.zeros_like(self.weight)
        fold = self.channels // self.shift_div
        start = 0
        for size in self.kernel_sizes:
            centre = start + size // 2
            reach = 1 if size > 1 else 0
            taps[:fold, centre + reach] = 1.0
            taps[fold:2 * fold, centre - reach] = 1.0
            taps[2 * fold:, centre] = 1.0
            start += size
        return taps

    def branch_kernels(self) -> torch.Tensor:
        """Each branch's kernel, centred and zero-padded to the largest size: (C, K, span)."""
        return torch.einsum("ci,ikj->ckj", self.weight, self.placement)

    def attention(self, pooled: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
        """Softmax over perceptions, (N, C, K), from the spatially pooled clip (N, C, T).

        z = time average of the branches' summed conv of the pooled clip; that average is a
        fixed weighting of the input frames (the band matrix's column means).
        """
        frame_weights = torch.einsum("cj,jts->cs", kernels.sum(1), self.band) / self.num_frames
        z = torch.einsum("cs,ncs->nc", frame_weights, pooled)
        logits = self.select(F.relu(self.squeeze(z)))
        return logits.view(-1, len(self.kernel_sizes), self.channels).softmax(dim=1).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nt, c, h, w = x.shape
        n, t = nt // self.num_frames, self.num_frames
        clip = x.view(n, t, c, h * w)
        kernels = self.branch_kernels()
        attention = self.attention(clip.mean(-1).transpose(1, 2), kernels)  # (N, C, K)
        fused = torch.einsum("nck,ckj->ncj", attention, kernels)  # (N, C, span)
        # the depthwise temporal conv as a per-sample, per-channel T x T band matrix
        mixing = torch.einsum("ncj,jts->ncts", fused, self.band)
        return torch.einsum("ncts,nscp->ntcp", mixing, clip).reshape(nt, c, h, w)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, num_frames={self.num_frames}, kernel_sizes={self.kernel_sizes}"


class TemporalSaliencyIntegration(nn.Sequential):
    """The TSI block's temporal part: SME, then CTI, on the features before the spatial conv."""

    def __init__(self, channels: int, num_frames: int, sme_reduction: int = 16,
                 kernel_sizes: tuple[int, ...] = (3, 5, 7), cti_reduction: int = 16):
        super().__init__()
        self.sme = SalientMotionExcitation(channels, num_frames, sme_reduction)
        self.cti = CrossPerceptionTemporalIntegration(channels, num_frames, kernel_sizes, cti_reduction)
