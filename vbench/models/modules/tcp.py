"""TCP: Temporal-attentive Covariance Pooling (Gao et al., NeurIPS 2021, arXiv 2110.14381).

A video head that replaces global average pooling: reduce the channels, calibrate the
features with a temporal attention, pool them into one covariance matrix a clip, take
its matrix square root by Newton-Schulz iterations, and classify the upper triangle.
Built after the official code (ZilinGao/Temporal-attentive-Covariance-Pooling-Networks-
for-Video-Recognition, ``ops/TCP/{TCP_module,TCP_att_module,TSA,TCA}.py``,
``ops/MPNCOV/MPNCOV.py``), whose defaults every reported model uses:

- reduction: 1x1 conv C -> 256, BN, ReLU, 1x1 conv 256 -> d, BN, ReLU; d = 128
  (``--TCP_dim 128``), so the representation has d(d+1)/2 = 8256 values;
- temporal attention (``TCP_att``), three parts:
  spatial (TSA): a softmax attention over the h*w positions whose queries come from
  frame t-1 and keys from frame t-2 (clamped at the first frame), values from frame t,
  scaled by d^-1/2, then BN (initialised to zero) and a residual sum;
  channel (TCA): the global-pooled features' differences to frame t-1 and to frame t-2
  (the latter halved; both circular in time) each give a sigmoid gate through 1x1
  convs d -> 4d -> d; the spatial part's output is scaled by the mean of the two gates;
  temporal conv: a (k, 1, 1) conv over time, k = T//2 + 1, circular padding, bias,
  initialised to zero, added to the input and rectified: relu(x + conv(att(x)));
- temporal covariance pooling: one covariance over every (t, h, w) position of the
  clip (``level='video'``). The temporal conv mixes each frame with its neighbours
  before pooling, so the covariance holds the inter-frame cross-covariances the paper
  describes; the attention makes the result depend on frame order. At initialisation
  the attention is the identity (zero conv and zero BN), so the head starts orderless;
- matrix square root by iSQRT-COV: divide by the trace, 3 coupled Newton-Schulz
  iterations, multiply by the trace's square root; then the upper triangle, row-major;
- dropout 0.5, then the classifier ``new_fc`` on the 8256 values (3.3M parameters at
  400 classes, an eighth of TCPNet's total).

Departures from the official code, each equivalent in value:

- the covariance is computed by centring then X Xc^T / M (C^2 M multiply-adds), not by
  the official X I_hat X^T with an M x M centring matrix (C M^2 + C^2 M): at 8x224x224
  (M = 8*14*14) that is 26M MACs instead of 340M, and at 16 frames and 256 pixels 67M
  instead of 2.2G;
- covariance, square root and triangle are plain tensor ops (bmm, baddbmm), not the
  official autograd Functions, so fvcore counts them and autograd differentiates them;
- the temporal conv pads circularly by (k//2, (k-1)//2) frames, which is what the
  official ``padding=k-1`` did on the torch < 1.5 it was written for (same-length
  output for every T). Its version test (``'14' >= '5'`` compares strings) misfires on
  torch >= 1.10, where the official module would pad 2(k-1) frames and fail;
- the trace is clamped at the smallest normal float before its square root, so a
  degenerate clip (zero covariance) gives zeros and finite gradients, not NaN.

Precision: the covariance and the iterations run in float32 with autocast disabled.
Under bfloat16 (7 significant bits) one product already errs by ~4e-3 relative, and the
six chained products of the iteration compound it, far from the 1e-4 the square root
is tested to; in float32 the two cost 3% of the head (d = 128 at 8x224x224: 26M + 13M
of 1.2 GMACs).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def covariance(x: torch.Tensor) -> torch.Tensor:
    """Covariance of the M columns of ``x`` (B, C, M): (B, C, C), normalised by M."""
    centred = x - x.mean(dim=2, keepdim=True)
    return torch.bmm(centred, centred.transpose(1, 2)) / x.shape[2]


def newton_schulz_sqrt(sigma: torch.Tensor, iterations: int = 3, eps: float = 1e-5) -> torch.Tensor:
    """Square root of SPD matrices (B, C, C) by iSQRT-COV's coupled Newton-Schulz iteration.

    Pre-normalise by the trace (eigenvalues into (0, 1]), iterate Y -> sqrt(A),
    Z -> A^-1/2, post-compensate by sqrt(trace). ``iterations`` counts as in the official
    ``Sqrtm`` (3 in TCP: 6 matrix products); more iterations converge further.
    """
    c = sigma.shape[-1]
    trace = sigma.diagonal(dim1=-2, dim2=-1).sum(-1).view(-1, 1, 1)
    a = sigma / (trace + eps)
    three = 3.0 * torch.eye(c, dtype=sigma.dtype, device=sigma.device).expand_as(sigma)
    zy = 0.5 * (three - a)
    if iterations < 2:
        result = torch.bmm(a, zy)
    else:
        y, z = torch.bmm(a, zy), zy
        for _ in range(iterations - 2):
            zy = 0.5 * torch.baddbmm(three, z, y, alpha=-1.0)
            y, z = torch.bmm(y, zy), torch.bmm(zy, z)
        result = 0.5 * torch.bmm(y, torch.baddbmm(three, z, y, alpha=-1.0))
    return result * trace.clamp_min(torch.finfo(sigma.dtype).tiny).sqrt()


def _frames_back(num_frames: int, steps: int) -> torch.Tensor:
    """Index of frame t - steps for every t, clamped at the first frame."""
    return torch.arange(num_frames).sub(steps).clamp_min(0)


class TemporalSpatialAttention(nn.Module):
    """TSA: attention over positions, queries from frame t-1, keys from t-2, values from t.

    The official code convolves shifted copies of the input; a 1x1 conv acts on each
    frame alone, so shifting its output instead is the same and lets the three
    projections run on the unshifted tensor.
    """

    def __init__(self, dim: int, num_frames: int):
        super().__init__()
        self.num_frames = num_frames
        self.query = nn.Conv2d(dim, dim, 1)  # official conv_phi_1 (frame t-1)
        self.key = nn.Conv2d(dim, dim, 1)  # official conv_phi_2 (frame t-2)
        self.value = nn.Conv2d(dim, dim, 1)  # official conv_phi0 (frame t)
        self.norm = nn.BatchNorm2d(dim)
        self.register_buffer("back1", _frames_back(num_frames, 1), persistent=False)
        self.register_buffer("back2", _frames_back(num_frames, 2), persistent=False)

    def _tokens(self, y: torch.Tensor, frames: torch.Tensor | None) -> torch.Tensor:
        """(N*T, C, h, w) -> (N*T, h*w, C), taking the given frame of each clip."""
        nt, c = y.shape[:2]
        if frames is not None:
            y = y.reshape(nt // self.num_frames, self.num_frames, -1).index_select(1, frames)  # any layout
        return y.reshape(nt, c, -1).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nt, c, h, w = x.shape
        out = F.scaled_dot_product_attention(  # softmax(q k^T / sqrt(c)) v, as the official einsums
            self._tokens(self.query(x), self.back1), self._tokens(self.key(x), self.back2),
            self._tokens(self.value(x), None))
        return x + self.norm(out.transpose(1, 2).reshape(nt, c, h, w))


class TemporalChannelAttention(nn.Module):
    """TCA: channel gates from the pooled features' differences to frames t-1 and t-2."""

    def __init__(self, dim: int, num_frames: int):
        super().__init__()
        self.num_frames = num_frames
        self.fc1 = nn.Conv2d(dim, 4 * dim, 1)  # official g1
        self.fc2 = nn.Conv2d(4 * dim, dim, 1)  # official g2

    def forward(self, x: torch.Tensor, calibrated: torch.Tensor) -> torch.Tensor:
        nt, c = x.shape[:2]
        pooled = F.adaptive_avg_pool2d(x, 1).view(nt // self.num_frames, self.num_frames, c)
        diff1 = pooled - torch.roll(pooled, 1, dims=1)  # circular, as the official cat of slices
        diff2 = (pooled - torch.roll(pooled, 2, dims=1)) * 0.5
        diffs = torch.cat([diff1.reshape(nt, c), diff2.reshape(nt, c)]).view(2 * nt, c, 1, 1)
        gates = torch.sigmoid(self.fc2(F.relu(self.fc1(diffs))))  # both differences in one pass
        return calibrated * ((gates[:nt] + gates[nt:]) * 0.5)


class TemporalAttention(nn.Module):
    """TCP's attention: spatial, then channel calibration, then the residual temporal conv."""

    def __init__(self, dim: int, num_frames: int, *, spatial: bool = True, channel: bool = True,
                 temporal_conv: bool = True):
        super().__init__()
        self.num_frames = num_frames
        self.spatial = TemporalSpatialAttention(dim, num_frames) if spatial else None
        self.channel = TemporalChannelAttention(dim, num_frames) if channel else None
        self.kernel = num_frames // 2 + 1
        self.temporal_conv = nn.Conv3d(dim, dim, (self.kernel, 1, 1)) if temporal_conv else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.spatial(x) if self.spatial is not None else x
        if self.channel is not None:
            out = self.channel(x, out)
        if self.temporal_conv is None:
            return out  # the official code's choice: no shortcut without the temporal conv
        nt, c, h, w = out.shape
        t = self.num_frames
        clip = out.view(nt // t, t, c, h, w).transpose(1, 2)  # (N, C, T, h, w)
        clip = F.pad(clip, (0, 0, 0, 0, self.kernel // 2, (self.kernel - 1) // 2), mode="circular")
        mixed = self.temporal_conv(clip).transpose(1, 2).reshape(nt, c, h, w)
        return F.relu(x + mixed)


class TCPHead(nn.Module):
    """Reduce, attend, pool the clip's covariance, square-root it, classify its upper triangle.

    Input: folded last-stage features (N*T, C, h, w); output (N, num_classes).
    """

    def __init__(self, in_features: int, num_classes: int, num_frames: int, *, dropout: float = 0.5,
                 dim: int = 128, inner_dim: int = 256, iterations: int = 3, spatial: bool = True,
                 channel: bool = True, temporal_conv: bool = True):
        super().__init__()
        self.num_frames = num_frames
        self.iterations = iterations
        self.reduce = nn.Sequential(
            nn.Conv2d(in_features, inner_dim, 1, bias=False), nn.BatchNorm2d(inner_dim), nn.ReLU(inplace=True),
            nn.Conv2d(inner_dim, dim, 1, bias=False), nn.BatchNorm2d(dim), nn.ReLU(inplace=True))
        use_attention = spatial or channel or temporal_conv
        self.attention = TemporalAttention(dim, num_frames, spatial=spatial, channel=channel,
                                           temporal_conv=temporal_conv) if use_attention else nn.Identity()
        rows, cols = torch.triu_indices(dim, dim)
        self.register_buffer("upper", rows * dim + cols, persistent=False)
        self.num_features = dim * (dim + 1) // 2
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(self.num_features, num_classes)
        self.init_weights()

    def init_weights(self) -> None:
        """The official initialisation: the attention starts as the identity."""
        for m in self.reduce.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        attention = self.attention
        if isinstance(attention, TemporalAttention):
            if attention.channel is not None:  # TCP_att.init_weights: N(0, 0.01), zero bias
                for conv in (attention.channel.fc1, attention.channel.fc2):
                    nn.init.normal_(conv.weight, 0.0, 0.01)
                    nn.init.zeros_(conv.bias)
            if attention.spatial is not None:  # TSA.init_weights: MSRA fill, zero BN scale
                for conv in (attention.spatial.query, attention.spatial.key, attention.spatial.value):
                    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
                    nn.init.zeros_(conv.bias)
                nn.init.zeros_(attention.spatial.norm.weight)
                nn.init.zeros_(attention.spatial.norm.bias)
            if attention.temporal_conv is not None:
                nn.init.zeros_(attention.temporal_conv.weight)
                nn.init.zeros_(attention.temporal_conv.bias)
        nn.init.normal_(self.fc.weight, 0.0, 0.001)
        nn.init.zeros_(self.fc.bias)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """Calibrated features (N*T, d, h, w) -> square-rooted covariance vectors (N, d(d+1)/2)."""
        nt, d = x.shape[:2]
        clip = x.view(nt // self.num_frames, self.num_frames, d, -1).transpose(1, 2)
        with torch.autocast(x.device.type, enabled=False):
            sigma = covariance(clip.reshape(clip.shape[0], d, -1).float())
            root = newton_schulz_sqrt(sigma, self.iterations)
        return root.flatten(1).index_select(1, self.upper)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.attention(self.reduce(x))
        return self.fc(self.dropout(self.pool(x)))
