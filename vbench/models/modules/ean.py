"""EAN's modules (Tian et al., IJCV 2022, arXiv 2107.10771), as tianyuan168326/EAN-Pytorch has them.

- ``MotionExcitation`` and ``LearnableShift``: the two temporal modules the official
  ``Bottleneck`` runs between ``conv1`` and ``conv2`` (``self.me`` then ``self.t_conv``).
  ME is TEA's motion excitation (the same module, imported from ``temporal.tea``: the
  official code runs the depthwise 3x3 on every segment, as TEA's does); the shift is a depthwise temporal conv initialised as
  TSM's 1/8 + 1/8 shift.
- ``EventAdaptiveBlock``: the dynamic-scale spatio-temporal kernels (official
  ``STCeptionLayer_max`` in ``EAB_rfs555.py``) that sit after the stem and after
  layer1..3: temporal and spatial convs of dilation 1 and 2 on channel thirds, a
  per-video 1x1x1 kernel generated from the clip, and a max-pooling branch.
- ``LatentMotionCode``: short-term motion from the 5 frames of every segment
  (``stm_*``, ``proj_back`` and, in the 16-segment file, ``stack_diff_motion``).
- ``SparseTransformer``: global aggregation over a few soft-selected tokens
  (``SOI_Tr.py``).

Tensors in 3D layout are (N, C, S, H, W) with S segments.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from vbench.errors import InputShapeError
from vbench.models.modules.tea import MotionExcitation
from vbench.models.modules.time_conv import temporal_conv3
from vbench.models.resnet import refold_frames, unfold_frames


def init_convs(module: nn.Module, skip: tuple[nn.Module, ...] = ()) -> None:
    """The official initialisation: Kaiming (fan-out) convs, unit BN; ``skip`` keeps its own."""
    skipped = {id(m) for s in skip for m in s.modules()}
    for m in module.modules():
        if id(m) in skipped:
            continue
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


# --- inside every bottleneck ---------------------------------------------------------


class LearnableShift(nn.Module):
    """A depthwise kernel-3 temporal conv (zero padded) that starts as TSM's shift.

    Channels [0, C/8) take frame t+1, [C/8, C/4) frame t-1, the rest stay. The weight
    keeps the official ``nn.Conv1d`` shape (C, 1, 3); computed by ``temporal_conv3``.
    """

    def __init__(self, channels: int, segments: int, fold_div: int = 8):
        super().__init__()
        self.segments = segments
        self.fold_div = fold_div
        self.weight = nn.Parameter(torch.zeros(channels, 1, 3))
        self.init_weights()

    def init_weights(self) -> None:
        fold = self.weight.shape[0] // self.fold_div
        with torch.no_grad():
            self.weight.zero_()
            self.weight[:fold, 0, 2] = 1  # frame t sees t+1
            self.weight[fold:2 * fold, 0, 0] = 1  # frame t sees t-1
            self.weight[2 * fold:, 0, 1] = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return temporal_conv3(x, self.weight[:, 0], self.segments)


class EanBlockTemporal(nn.Module):
    """What the official bottleneck runs before its 3x3 conv: ME, then the learnable shift."""

    def __init__(self, channels: int, segments: int):
        super().__init__()
        self.me = MotionExcitation(channels, num_frames=segments)
        self.t_conv = LearnableShift(channels, segments)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.t_conv(self.me(x))


# --- between stages ------------------------------------------------------------------


def conv_per_frame(conv: nn.Conv3d, x: torch.Tensor) -> torch.Tensor:
    """A Conv3d whose temporal kernel is 1, run as a conv2d on folded frames (N*S, C, H, W).

    Keeps the official parameter (and its checkpoint shape) while running the faster 2D
    kernel on the layout the trunk already has.
    """
    return F.conv2d(x, conv.weight.squeeze(2), conv.bias, conv.stride[1:], conv.padding[1:], conv.dilation[1:],
                    conv.groups)


def _thirds(channels: int) -> list[int]:
    third = channels // 3
    return [third, third, channels - 2 * third]


def _conv_bn_relu(cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0, bias: bool = True):
    return [nn.Conv3d(cin, cout, kernel, stride, padding, bias=bias), nn.BatchNorm3d(cout), nn.ReLU(inplace=True)]


class EventAdaptiveBlock(nn.Module):
    """Dynamic-scale spatio-temporal kernels on a 1/``ratio`` compressed copy of the features.

    compress (grouped 1x1x1) -> channel thirds through temporal convs of dilation 0 (identity),
    1 and 2 -> BN, ReLU -> a 1x1x1 kernel generated for each video from the clip
    (``kernel_context`` pools it, ``kernel_generator`` emits U x U weights) -> thirds through
    spatial convs of dilation 0, 1, 2 -> plus a 3x3x3 max-pool branch -> expand (grouped
    1x1x1, initialised at 1/100 of its default) -> residual sum.

    Works on folded frames (N*S, C, H, W): the ops without a temporal extent run as 2D
    ops on that layout, and only the temporal convs, the temporal max and the kernel
    context see the (N, C, S, H, W) view. The official block transposes the whole
    input to 3D and back; this gives the same values with less copying and faster
    kernels on the CPU. Parameters keep the official Conv3d shapes.
    """

    def __init__(self, planes: int, segments: int, ratio: int = 4, kernel_ratio: int = 16):
        super().__init__()
        used = planes // ratio
        inner = used // kernel_ratio
        self.segments = segments
        self.used = used
        self.splits = _thirds(used)
        third, last = self.splits[1], self.splits[2]
        self.compress = nn.Conv3d(planes, used, 1, bias=False, groups=4)
        self.expand = nn.Conv3d(used, planes, 1, bias=False, groups=4)
        self.temporal = nn.Conv3d(third, third, (3, 1, 1), padding=(1, 0, 0), bias=False)
        self.temporal_dilated = nn.Conv3d(last, last, (3, 1, 1), padding=(2, 0, 0), dilation=(2, 1, 1), bias=False)
        self.spatial = nn.Conv3d(third, third, (1, 3, 3), padding=(0, 1, 1), bias=False)
        self.spatial_dilated = nn.Conv3d(last, last, (1, 3, 3), padding=(0, 2, 2), dilation=(1, 2, 2), bias=False)
        self.norm = nn.BatchNorm2d(used)  # the official BatchNorm3d, on folded frames (same state)
        self.max_project = nn.Conv3d(used, used, 1, bias=False)
        self.kernel_context = nn.Sequential(
            *_conv_bn_relu(used, inner, 1, bias=False),
            *_conv_bn_relu(inner, inner, 3, padding=1),
            *_conv_bn_relu(inner, inner, 3, padding=1),
            *_conv_bn_relu(inner, 2 * inner, 3, stride=2, padding=2),
            *_conv_bn_relu(2 * inner, 2 * inner, 3, padding=1),
            *_conv_bn_relu(2 * inner, 2 * inner, 3, padding=1),
            *_conv_bn_relu(2 * inner, 4 * inner, 3, stride=2, padding=2),
            nn.AdaptiveAvgPool3d(1),
        )
        self.kernel_generator = nn.Linear(4 * inner, used * used)
        self.init_weights()

    def init_weights(self) -> None:
        init_convs(self, skip=(self.expand,))
        with torch.no_grad():
            self.expand.reset_parameters()
            self.expand.weight.mul_(0.01)

    def dynamic_kernel(self, x: torch.Tensor) -> torch.Tensor:
        """The per-video 1x1x1 kernel (N, U_out, U_in) of compressed features (N, U, S, H, W)."""
        return self.kernel_generator(self.kernel_context(x).flatten(1)).view(-1, self.used, self.used)

    def max_branch(self, x: torch.Tensor) -> torch.Tensor:
        """The official 3x3x3 max-pool (stride 1, padding 1) and 1x1x1 projection, on folded frames.

        The pool runs as a 3x3 spatial then a 3x1x1 temporal pool: exactly equal (max is
        separable, pooling pads with -inf) and faster; vbench's pooling count is then
        9 + 3 taps per output instead of 27.
        """
        spatial = unfold_frames(F.max_pool2d(x, 3, 1, 1), self.segments)
        pooled = refold_frames(F.max_pool3d(spatial, (3, 1, 1), 1, (1, 0, 0)))
        return conv_per_frame(self.max_project, pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Folded frames (N*S, C, H, W) -> the same shape."""
        st = conv_per_frame(self.compress, x)
        ns, u, h, w = st.shape
        n, s = ns // self.segments, self.segments
        kernel = self.dynamic_kernel(unfold_frames(st, s))
        pooled = self.max_branch(st)
        keep, mid, last = torch.split(st, self.splits, dim=1)
        mid = refold_frames(self.temporal(unfold_frames(mid, s)))
        last = refold_frames(self.temporal_dilated(unfold_frames(last, s)))
        st = F.relu(self.norm(torch.cat((keep, mid, last), 1)))
        # the kernel expanded over segments: fvcore's matmul rule reads the batch from the
        # first operand and would count one segment of a broadcast matmul
        st = torch.matmul(kernel.unsqueeze(1).expand(n, s, u, u), st.view(n, s, u, h * w)).view(ns, u, h, w)
        keep, mid, last = torch.split(st, self.splits, dim=1)
        st = torch.cat((keep, conv_per_frame(self.spatial, mid), conv_per_frame(self.spatial_dilated, last)), 1)
        return x + conv_per_frame(self.expand, st + pooled)


# --- latent motion code --------------------------------------------------------------

FRAMES_PER_SEGMENT = 5
LMC_PATCH = 16  # on the half-resolution frame differences
LMC_OUT_PATCH = 8  # on the stem's output (1/4 resolution)
LMC_OUT_CHANNELS = 16  # x (FRAMES_PER_SEGMENT - 1) differences = 64, the stem's width


def lmc_check_size(h: int, w: int) -> None:
    step = 2 * LMC_PATCH
    if h % step or w % step:
        raise InputShapeError(
            f"EAN's latent motion code cuts half-resolution frame differences into {LMC_PATCH}x{LMC_PATCH} "
            f"patches: height and width must be multiples of {step}, got {h}x{w}")


class LatentMotionCode(nn.Module):
    """Short-term motion of each segment, added to the stem's output (the paper's LMC).

    The 5 frames of a segment are subsampled 2x in space (the official nearest
    ``F.upsample(scale_factor=0.5)``, i.e. even rows and columns), differenced (4
    differences), cut into 16x16 patches (channels ordered row-in-patch, column-in-patch,
    colour), embedded by a 1x1x1 conv, mixed by two residual grouped 3x3x3 convs over
    (difference, patch row, patch column) and projected back to 8x8 x 16-channel patches
    of every difference: 64 channels at the stem's resolution. At 224x224 the patch grid
    is 7x7 (the official ``p_num``); other sizes that are multiples of 32 give other grids.

    ``stacked=True`` is the 16-segment file's design: a deeper embedding and projection
    and a 2D conv branch on the 12 stacked difference channels, fused as
    ``0.6 stem + 0.2 lmc + 0.2 stacked``; the 8-segment file adds ``stem + lmc``.
    """

    def __init__(self, stacked: bool = False, dim: int = 256):
        super().__init__()
        diffs = FRAMES_PER_SEGMENT - 1
        patch_in = LMC_PATCH * LMC_PATCH * 3
        patch_out = LMC_OUT_PATCH * LMC_OUT_PATCH * LMC_OUT_CHANNELS
        self.stacked = stacked
        if stacked:
            self.patch_embed = nn.Sequential(nn.Conv3d(patch_in, dim, 1, bias=False), nn.BatchNorm3d(dim),
                                             nn.ReLU(inplace=True), nn.Conv3d(dim, dim, 1, bias=False))
            self.patch_unembed = nn.Sequential(nn.Conv3d(dim, dim, 1, bias=False), nn.BatchNorm3d(dim),
                                               nn.ReLU(inplace=True), nn.Conv3d(dim, patch_out, 1, bias=False))
            self.stacked_differences = nn.Sequential(
                nn.Conv2d(3 * diffs, 24, 3, 2, 1, bias=False), nn.ReLU(inplace=True), nn.BatchNorm2d(24),
                nn.Conv2d(24, 64, 3, 1, 1, bias=False, groups=4), nn.ReLU(inplace=True), nn.BatchNorm2d(64),
                nn.Conv2d(64, 64, 1), nn.Conv2d(64, 64, 3, 1, 1, bias=False, groups=16))
        else:
            self.patch_embed = nn.Sequential(nn.Conv3d(patch_in, dim, 1, bias=False))
            self.patch_unembed = nn.Sequential(nn.Conv3d(dim, patch_out, 1, bias=False))
        self.context1 = nn.Sequential(
            nn.Conv3d(dim, dim, 3, 1, 1, bias=False, groups=16), nn.BatchNorm3d(dim), nn.ReLU(inplace=True),
            nn.Conv3d(dim, dim, 1, bias=False), nn.BatchNorm3d(dim))
        self.context2 = nn.Sequential(nn.Conv3d(dim, dim, 3, 1, 1, bias=False, groups=16), nn.BatchNorm3d(dim))
        self.init_weights()

    def init_weights(self) -> None:
        init_convs(self, skip=(self.patch_unembed,))
        with torch.no_grad():
            for m in self.patch_unembed:
                if hasattr(m, "reset_parameters"):
                    m.reset_parameters()
            self.patch_unembed[0].weight.mul_(0.01)

    @staticmethod
    def differences(frames: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, 5, H, W) frames -> (N*S, 3, 4, H/2, W/2) differences of 2x-subsampled frames."""
        half = frames[..., ::2, ::2]
        diff = half[:, :, :, 1:] - half[:, :, :, :-1]
        return diff.transpose(1, 2).flatten(0, 1)

    def forward(self, frames: torch.Tensor, stem: torch.Tensor) -> torch.Tensor:
        """Fuse the motion code of ``frames`` (N, 3, S, 5, H, W) into ``stem`` (N*S, 64, H/4, W/4)."""
        diff = self.differences(frames)
        b, c, d, h, w = diff.shape
        p = LMC_PATCH
        gh, gw = h // p, w // p
        patches = diff.view(b, c, d, gh, p, gw, p).permute(0, 4, 6, 1, 2, 3, 5).reshape(b, p * p * c, d, gh, gw)
        code = self.patch_embed(patches)
        code = code + self.context1(code)
        code = code + self.context2(code)
        q, k = LMC_OUT_PATCH, LMC_OUT_CHANNELS
        code = self.patch_unembed(code).view(b, q, q, k, d, gh, gw)
        code = code.permute(0, 3, 4, 5, 1, 6, 2).reshape(b, k * d, gh * q, gw * q)
        if not self.stacked:
            return stem + code
        stacked = self.stacked_differences(diff.reshape(b, c * d, h, w))
        return 0.6 * stem + 0.2 * code + 0.2 * stacked


# --- sparse transformer --------------------------------------------------------------


class TokenNorm(nn.Module):
    """BatchNorm1d over the feature axis of (N, tokens, C): the official ``PreNorm``'s norm."""

    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.BatchNorm1d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.flatten(0, 1)).view(x.shape)


class Attention(nn.Module):
    """Multi-head self-attention, qkv without bias, out projection with bias."""

    def __init__(self, dim: int, heads: int, dim_head: int):
        super().__init__()
        self.heads = heads
        self.to_qkv = nn.Linear(dim, 3 * heads * dim_head, bias=False)
        self.to_out = nn.Linear(heads * dim_head, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, tokens, _ = x.shape
        q, k, v = self.to_qkv(x).view(n, tokens, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)  # scale 1/sqrt(dim_head), as the official code
        return self.to_out(out.transpose(1, 2).reshape(n, tokens, -1))


class FeedForward(nn.Module):
    """Linear-BN-ReLU, Linear-BN-ReLU, Linear on every token (the official ``FeedForward``)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(0, 1)).view(x.shape)


class TransformerLayer(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int, hidden: int):
        super().__init__()
        self.attn_norm = TokenNorm(dim)
        self.attn = Attention(dim, heads, dim_head)
        self.ff_norm = TokenNorm(dim)
        self.ff = FeedForward(dim, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x))
        return x + self.ff(self.ff_norm(x))


class SparseTransformer(nn.Module):
    """Global aggregation over a few selected tokens (the paper's sparse interaction).

    The last-stage features are reduced 4x (2048 -> 512); a small conv net scores every
    position for ``tokens_per_segment`` (4) object slots, softmax over the positions of
    each segment; each slot's token is the score-weighted sum of the (position-embedded)
    features: a soft selection, as in the official code (no hard top-k). The S x 4
    tokens go through a 2-layer transformer (8 heads of 64, BN pre-norm, MLP 512); their
    mean is expanded back to 2048, normalised by a BN initialised to zero and added to
    the global average of the features, so the module starts as plain average pooling.

    The position embedding is learnt on the 7x7 grid of 224x224 inputs; other grids get
    it bilinearly resized (vbench's choice; the official code takes 224 only).
    """

    def __init__(self, channels: int, segments: int, reduction: int = 4, tokens_per_segment: int = 4,
                 grid: tuple[int, int] = (7, 7), depth: int = 2, heads: int = 8):
        super().__init__()
        dim = channels // reduction
        score_dim = dim // 4
        self.segments = segments
        self.grid = grid
        self.reduce = nn.Conv3d(channels, dim, 1, bias=False)
        self.score_predictor = nn.Sequential(
            nn.Conv3d(dim, score_dim, 1), nn.ReLU(inplace=True), nn.BatchNorm3d(score_dim),
            nn.Conv3d(score_dim, score_dim, 3, 1, 1), nn.ReLU(inplace=True), nn.BatchNorm3d(score_dim),
            nn.Conv3d(score_dim, score_dim, (1, 3, 3), 1, (0, 1, 1)), nn.ReLU(inplace=True), nn.BatchNorm3d(score_dim),
            nn.Conv3d(score_dim, tokens_per_segment, (1, 3, 3), 1, (0, 1, 1)))
        self.pos_embedding = nn.Parameter(torch.empty(dim, segments * grid[0] * grid[1]))
        self.layers = nn.ModuleList(TransformerLayer(dim, heads, dim // heads, dim) for _ in range(depth))
        self.expand = nn.Linear(dim, channels, bias=False)
        self.out_norm = nn.BatchNorm1d(channels)
        self.init_weights()

    def init_weights(self) -> None:
        init_convs(self, skip=(self.out_norm,))
        nn.init.normal_(self.pos_embedding)
        nn.init.zeros_(self.out_norm.weight)
        nn.init.zeros_(self.out_norm.bias)

    def position_embedding(self, h: int, w: int) -> torch.Tensor:
        """(dim, S, h, w): the learnt embedding, resized when the grid is not the trained one."""
        pos = self.pos_embedding.view(-1, self.segments, *self.grid)
        if (h, w) != self.grid:
            pos = F.interpolate(pos, size=(h, w), mode="bilinear", align_corners=False)
        return pos

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """(N, slots, S, h*w): each slot's selection weights, a softmax over positions."""
        n, _, s, h, w = x.shape
        return F.softmax(self.score_predictor(x).view(n, -1, s, h * w), dim=-1)

    def select(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens (N, slots*S, dim) from reduced features (N, dim, S, h, w), slot-major as the official code."""
        n, c, s, h, w = x.shape
        weights = self.scores(x)
        features = (x + self.position_embedding(h, w)).view(n, c, s, h * w)
        tokens = torch.einsum("bcsp,bmsp->bmsc", features, weights)
        return tokens.reshape(n, -1, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        average = F.adaptive_avg_pool3d(x, 1).flatten(1)
        tokens = self.select(self.reduce(x))
        for layer in self.layers:
            tokens = layer(tokens)
        return self.out_norm(self.expand(tokens.mean(1))) + average
