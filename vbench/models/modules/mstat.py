"""MSTAT's modules: STA blocks, proxy embeddings (AAP / IAP) and temporal patch shuffling.

A reconstruction (see vbench/models/mstat.py for every choice and its reason). Tokens
of a clip are kept as (N, T, L, D): T frames, L = 1 class token + h*w patches per frame.

- ``STABlock``: a ViT block preceded by a temporal self-attention branch. The temporal
  branch attends along T for every token position (class token included), the ViT part
  along the L tokens of each frame: divided space-time attention (TimeSformer's "T+S").
  The temporal output projection starts at zero, so a freshly built STA block is the
  ImageNet ViT block it was initialised from. The learned temporal position embedding
  enters only the temporal branch's input: with the branch off, the network sees the
  frames as an unordered set.
- ``ProxyEmbedding``: learnable proxy tokens that attend to a set of clip tokens and to
  one another (the proxy rows of a self-attention over [proxies; tokens]; the token rows,
  which would be thrown away, are not computed), followed by an MLP, pre-norm residuals.
  Attribute-aware (AAP): several proxies over all patch tokens of all frames (local
  evidence). Identity-aware (IAP): one proxy over the frame class tokens (global
  evidence). Attribute-identity (stage 3): both kinds of proxies together over all tokens.
- ``TemporalPatchShuffle``: in training only, with probability ``prob`` a clip has a
  random ``ratio`` of its patch positions each permuted along time (one permutation per
  position); identity in eval mode.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from vbench.models.vit import Attention, Block, Mlp

TOKEN_SOURCES = ("patches", "class", "all")


class STABlock(Block):
    """Spatial-Temporal Aggregation: temporal attention along T, then a ViT block along L."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0):
        super().__init__(dim, num_heads, mlp_ratio)
        self.temporal_norm = nn.LayerNorm(dim, eps=1e-6)
        self.temporal_attn = Attention(dim, num_heads)

    def zero_temporal_output(self) -> None:
        nn.init.zeros_(self.temporal_attn.proj.weight)
        nn.init.zeros_(self.temporal_attn.proj.bias)

    def forward(self, x: torch.Tensor, time_embed: torch.Tensor | None) -> torch.Tensor:
        """``x`` (N, T, L, D); ``time_embed`` (T, D), or None to skip the temporal branch."""
        n, t, length, d = x.shape
        if time_embed is not None:
            xt = x.transpose(1, 2).reshape(n * length, t, d)
            xt = xt + self.temporal_attn(self.temporal_norm(xt) + time_embed)
            x = xt.view(n, length, t, d).transpose(1, 2)
        return super().forward(x.reshape(n * t, length, d)).view(n, t, length, d)


class ProxyEmbedding(nn.Module):
    """``num_proxies`` learnable tokens that gather evidence from clip tokens by attention."""

    def __init__(self, dim: int, num_heads: int, num_proxies: int, source: str, mlp_ratio: float = 4.0):
        super().__init__()
        if source not in TOKEN_SOURCES:
            raise ValueError(f"proxy source must be one of {TOKEN_SOURCES}, got {source!r}")
        self.source = source
        self.num_heads = num_heads
        self.proxies = nn.Parameter(torch.zeros(1, num_proxies, dim))
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        nn.init.trunc_normal_(self.proxies, std=0.02)

    def select(self, x: torch.Tensor) -> torch.Tensor:
        """The tokens this proxy reads from (N, T, L, D) -> (N, S, D)."""
        n, _, _, d = x.shape
        if self.source == "class":
            return x[:, :, 0]
        if self.source == "patches":
            return x[:, :, 1:].reshape(n, -1, d)
        return x.reshape(n, -1, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Clip tokens (N, T, L, D) -> the clip's stage feature (N, D): mean of the proxies."""
        tokens = self.select(x)
        n, _, d = tokens.shape
        k = self.proxies.shape[1]
        proxies = self.proxies.expand(n, -1, -1)
        h = self.norm1(torch.cat([proxies, tokens], dim=1))
        heads, hd = self.num_heads, d // self.num_heads
        q = self.q(h[:, :k]).view(n, k, heads, hd).transpose(1, 2)
        key, value = self.kv(h).view(n, -1, 2, heads, hd).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, key, value).transpose(1, 2).reshape(n, k, d)
        proxies = proxies + self.proj(attended)
        proxies = proxies + self.mlp(self.norm2(proxies))
        return self.norm(proxies).mean(dim=1)


class TemporalPatchShuffle(nn.Module):
    """Training-time augmentation: permute some patch positions along time (see module doc)."""

    def __init__(self, prob: float = 0.5, ratio: float = 0.25):
        super().__init__()
        if not (0.0 <= prob <= 1.0 and 0.0 <= ratio <= 1.0):
            raise ValueError(f"patch shuffle probability and ratio must lie in [0, 1], got {prob}, {ratio}")
        self.prob = prob
        self.ratio = ratio

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """``patches`` (N, T, P, D) -> the same with shuffled positions (training only)."""
        if not self.training or self.prob == 0 or self.ratio == 0:
            return patches
        n, t, p, d = patches.shape
        device = patches.device
        order = torch.rand(n, p, t, device=device).argsort(dim=-1)  # one permutation of T per position
        identity = torch.arange(t, device=device).expand(n, p, t)
        chosen = (torch.rand(n, p, 1, device=device) < self.ratio) & (torch.rand(n, 1, 1, device=device) < self.prob)
        order = torch.where(chosen, order, identity)  # (N, P, T)
        index = order.transpose(1, 2).unsqueeze(-1).expand(n, t, p, d)
        return patches.gather(1, index)
