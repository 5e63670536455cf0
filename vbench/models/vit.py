"""Vision Transformer parts (ViT-B/16 and smaller) for the transformer models of the zoo.

Key names follow timm's ``VisionTransformer`` (``patch_embed.proj``, ``cls_token``,
``pos_embed``, ``blocks.{i}.norm1/attn.qkv/attn.proj/norm2/mlp.fc1/mlp.fc2``, ``norm``),
the most common layout of public ViT checkpoints; ``convert_vit_state_dict`` also takes
torchvision's ``vit_b_16`` names (``conv_proj``, ``class_token``,
``encoder.pos_embedding``, ``encoder.layers.encoder_layer_{i}.ln_1/self_attention/
ln_2/mlp.0/mlp.3``, ``encoder.ln``). Position embeddings of another grid (ImageNet's
14x14 for 224x224) are resized by bilinear interpolation to the model's grid (16x8 at
256x128), as TransReID does when it starts re-id ViTs from ImageNet weights.

Attention uses ``F.scaled_dot_product_attention`` (fused on every backend; vbench's
FLOP counter has a handle for it: the two matmuls, per head).
"""

from __future__ import annotations

import math
import re

import torch
from torch import nn
from torch.nn import functional as F

from vbench.errors import CheckpointError, InputShapeError


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv projection (timm's layout)."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"embedding width {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, s, d))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """A pre-norm ViT block: x + attn(LN(x)), then x + mlp(LN(x)); LayerNorm eps 1e-6."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    """Non-overlapping patches (stride = patch size) projected to tokens: (B, C, H, W) -> (B, h*w, D)."""

    def __init__(self, patch_size: int, in_chans: int, dim: int):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_chans, dim, patch_size, stride=patch_size)

    def grid(self, height: int, width: int) -> tuple[int, int]:
        p = self.patch_size
        if height % p or width % p:
            raise InputShapeError(f"input {height}x{width} is not a multiple of the patch size {p}: "
                                  f"give a size whose height and width divide by {p} (e.g. 256x128)")
        return height // p, width // p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


def init_vit_weights(module: nn.Module) -> None:
    """timm's ViT initialisation: truncated normal(0.02) linears, zero biases, unit LayerNorms."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def resize_pos_embed(pos_embed: torch.Tensor, grid: tuple[int, int], num_prefix: int = 1,
                     source_grid: tuple[int, int] | None = None) -> torch.Tensor:
    """(1, prefix + h*w, D) position embedding resized to ``grid`` (bilinear), prefix kept.

    Without ``source_grid`` the source is taken as square (ImageNet ViTs: 14x14 at 224).
    """
    prefix, patches = pos_embed[:, :num_prefix], pos_embed[:, num_prefix:]
    count, dim = patches.shape[1], patches.shape[2]
    if source_grid is None:
        if count == grid[0] * grid[1]:
            return pos_embed
        side = math.isqrt(count)
        if side * side != count:
            raise CheckpointError(f"position embedding of {count} patches is not a square grid; "
                                  f"cannot resize it to {grid}")
        source_grid = (side, side)
    if tuple(source_grid) == tuple(grid):
        return pos_embed
    patches = patches.reshape(1, source_grid[0], source_grid[1], dim).permute(0, 3, 1, 2)
    patches = F.interpolate(patches.float(), size=grid, mode="bilinear", align_corners=False)
    patches = patches.permute(0, 2, 3, 1).reshape(1, grid[0] * grid[1], dim).to(pos_embed.dtype)
    return torch.cat([prefix, patches], dim=1)


_TORCHVISION_LAYER = re.compile(r"^encoder\.layers\.encoder_layer_(\d+)\.(.+)$")
_TORCHVISION_BLOCK = {
    "ln_1.": "norm1.", "ln_2.": "norm2.",
    "self_attention.in_proj_weight": "attn.qkv.weight", "self_attention.in_proj_bias": "attn.qkv.bias",
    "self_attention.out_proj.": "attn.proj.",
    "mlp.0.": "mlp.fc1.", "mlp.3.": "mlp.fc2.", "mlp.linear_1.": "mlp.fc1.", "mlp.linear_2.": "mlp.fc2.",
}
_TORCHVISION_TOP = {"conv_proj.": "patch_embed.proj.", "class_token": "cls_token",
                    "encoder.pos_embedding": "pos_embed", "encoder.ln.": "norm."}
_CLASSIFIER_PREFIXES = ("head.", "heads.", "fc.", "pre_logits.", "fc_norm.")


def convert_vit_state_dict(state_dict: dict[str, torch.Tensor], grid: tuple[int, int] | None = None,
                           keep_classifier: bool = False) -> dict[str, torch.Tensor]:
    """An ImageNet ViT state dict (timm or torchvision names) in vbench's ViT names.

    The ImageNet classifier is dropped (kept as ``head.`` with ``keep_classifier``);
    ``pos_embed`` is resized to ``grid`` when given. Keys that are neither timm's nor
    torchvision's pass through unchanged.
    """
    out = {}
    for key, value in state_dict.items():
        if keep_classifier and key.startswith("heads.head."):
            key = key.removeprefix("heads.")
        elif key.startswith(_CLASSIFIER_PREFIXES):
            if not (keep_classifier and key.startswith("head.")):
                continue
        layer = _TORCHVISION_LAYER.match(key)
        if layer:
            rest = layer[2]
            for old, new in _TORCHVISION_BLOCK.items():
                if rest.startswith(old):
                    rest = new + rest[len(old):]
                    break
            key = f"blocks.{layer[1]}.{rest}"
        else:
            for old, new in _TORCHVISION_TOP.items():
                if key.startswith(old):
                    key = new + key[len(old):]
                    break
        out[key] = value
    if "pos_embed" in out and grid is not None:
        out["pos_embed"] = resize_pos_embed(out["pos_embed"], grid)
    return out


class VisionTransformer(nn.Module):
    """The image ViT (class-token classifier) these parts make: the reference for the
    backbone's own figures (ViT-B/16: 86,567,656 params and 17.56 GMACs at 224x224, as
    torchvision's ``vit_b_16`` documents) and for the converters' equivalence tests."""

    def __init__(self, img_size: tuple[int, int] = (224, 224), patch_size: int = 16, embed_dim: int = 768,
                 depth: int = 12, num_heads: int = 12, mlp_ratio: float = 4.0, num_classes: int = 1000):
        super().__init__()
        self.patch_embed = PatchEmbed(patch_size, 3, embed_dim)
        self.grid = self.patch_embed.grid(*img_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.grid[0] * self.grid[1], embed_dim))
        self.blocks = nn.Sequential(*(Block(embed_dim, num_heads, mlp_ratio) for _ in range(depth)))
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.head = nn.Linear(embed_dim, num_classes)
        self.apply(init_vit_weights)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) -> final-norm tokens (B, 1 + h*w, D)."""
        patches = self.patch_embed(x)
        tokens = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), patches], dim=1) + self.pos_embed
        return self.norm(self.blocks(tokens))

    def forward_head(self, tokens: torch.Tensor) -> torch.Tensor:
        """The image case of the model contract: the class token through ``head``."""
        return self.head(tokens[:, 0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        from vbench.models.contract import replace_linear

        replace_linear(self, "head", num_classes)
