"""MSTAT: Multi-Stage Spatio-Temporal Aggregation Transformer (Tang, Zhang, Peng, Chen, Lin;
IEEE TMM 2023, arXiv 2301.00531) for video person re-identification. A RECONSTRUCTION.

What is known (abstract of arXiv 2301.00531, the only text of the paper that could be read):
three stages encode attribute-associated, identity-associated and attribute-identity-
associated information; the outputs of all stages are combined for the identification;
Spatial-Temporal Aggregation (STA) modules in each stage run self-attention along space and
along time separately, to save computation; Attribute-Aware and Identity-Aware Proxy
embedding modules (AAP, IAP) extract each stage's features with "newly designed
self-attention operations"; temporal patch shuffling makes training more robust. No public
code was found (searched by name, by module names and in re-id code collections), and the
paper body (method section, implementation details, tables) could not be read. Every
choice below is therefore vbench's, taken from the paper's family, with its reason:

- Backbone: ViT-B/16 (12 blocks, width 768, 12 heads, MLP 3072, LayerNorm eps 1e-6), the
  image transformer of TransReID (He et al., ICCV 2021), the ancestor of transformer
  video re-id; non-overlapping 16x16 patches (the brief's "patch stride 16"; TransReID's
  overlapping stride 12 is not used). Input 8 frames of 256x128 (the usual video re-id
  clip: AP3D, TCLNet, PSTA). One class token per frame, ImageNet position embeddings
  resized bilinearly from 14x14 to 16x8 (TransReID's ``resize_pos_embed``).
- Three stages = the 12 blocks split 4 / 4 / 4 (no reason to favour another split;
  ``stage_depths`` changes it).
- STA: every block is an STA block (vbench/models/modules/mstat.py): temporal attention
  across the T frames for each token position, then the ImageNet block's spatial
  attention within each frame and its MLP: TimeSformer's divided space-time attention
  (Bertasius et al., ICML 2021), the standard way to "run self-attention along the
  spatial and temporal dimensions separately" at the cost of (T + L) instead of T*L keys
  per token. The temporal branch has its own LayerNorm, qkv and output projection; the
  output projection starts at zero (as TimeSformer's ``temporal_fc``), so at
  initialisation MSTAT is the per-frame ImageNet ViT. A learned temporal position
  embedding (T x D, zero at start) is added to the temporal branch's input only: frame
  order reaches the features through temporal attention and nowhere else.
- AAP (stage 1, attribute): 4 learnable proxies (TransReID's JPM uses 4 local groups)
  attend to the patch tokens of all frames and to one another; IAP (stage 2, identity):
  one proxy attends to the T frame class tokens; stage 3 (attribute-identity): 4 + 1
  proxies attend together to all tokens. Each is a pre-norm transformer block whose
  queries are the proxies only (the proxy rows of self-attention over [proxies; tokens]),
  with an MLP and a final LayerNorm; a stage's feature is the mean of its proxies (D).
- Identity feature: the three stage features concatenated (3 x 768 = 2304), then a
  BN-neck (BatchNorm1d with a frozen zero bias; Luo et al. "Bag of Tricks", TransReID)
  before a bias-free ID classifier over the 625 MARS training identities. The stage-3
  tokens pass through the ViT's final LayerNorm (``norm``) before their proxies.
- Output: eval -> the BN-neck feature (N, 2304) (``eval_feature="raw"``: before the BN);
  training -> (logits, feature before BN), the pair that ID and triplet losses take.
- Temporal patch shuffling: training only, before the first block, on the patch tokens
  (class tokens untouched): with probability 0.5 a clip has 25% of its patch positions
  each permuted along time. Identity in eval mode.

Params and GFLOPs: the paper's figures were not found; vbench reports its own (2304-d
feature, 625 classes, 8x256x128): see vbench/reporting/reported/mstat.csv.
ImageNet weights: ``create_model("mstat_vitb16", pretrained=path)`` takes a timm or
torchvision ViT-B/16 state dict (``mstat_checkpoint_filter``); every backbone tensor lands,
the temporal branches, proxies, BN-neck and classifier keep their initialisation.
"""

from __future__ import annotations

import torch
from torch import nn

from vbench.models.contract import replace_linear
from vbench.models.registry import register_model
from vbench.models.resnet import fold_frames
from vbench.models.modules.mstat import ProxyEmbedding, STABlock, TemporalPatchShuffle
from vbench.models.vit import PatchEmbed, convert_vit_state_dict, init_vit_weights, resize_pos_embed

MSTAT_PAPER = "Multi-Stage Spatio-Temporal Aggregation Transformer for Video Person Re-identification"
MARS_TRAIN_IDENTITIES = 625


class MSTAT(nn.Module):
    """Video (N, 3, T, H, W) -> identity feature (eval) or (logits, feature) (training)."""

    def __init__(self, num_classes: int = MARS_TRAIN_IDENTITIES, num_frames: int = 8,
                 img_size: tuple[int, int] = (256, 128), patch_size: int = 16, embed_dim: int = 768,
                 num_heads: int = 12, mlp_ratio: float = 4.0, stage_depths: tuple[int, ...] = (4, 4, 4),
                 attribute_proxies: int = 4, shuffle_prob: float = 0.5, shuffle_ratio: float = 0.25,
                 eval_feature: str = "bn"):
        super().__init__()
        if len(stage_depths) != 3 or min(stage_depths) < 1:
            raise ValueError(f"MSTAT has three stages of at least one block, got {stage_depths}")
        if eval_feature not in ("bn", "raw"):
            raise ValueError(f"eval_feature must be 'bn' or 'raw', got {eval_feature!r}")
        self.num_frames = num_frames
        self.eval_feature = eval_feature
        self.temporal_attention = True  # False: frames as an unordered set (for ablations and tests)
        self.stage_ends = tuple(int(sum(stage_depths[:i + 1])) for i in range(3))
        self.img_size = tuple(img_size)
        self.patch_embed = PatchEmbed(patch_size, 3, embed_dim)
        self.grid = self.patch_embed.grid(*img_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.grid[0] * self.grid[1], embed_dim))
        self.time_embed = nn.Parameter(torch.zeros(num_frames, embed_dim))
        self.patch_shuffle = TemporalPatchShuffle(shuffle_prob, shuffle_ratio)
        self.blocks = nn.ModuleList(STABlock(embed_dim, num_heads, mlp_ratio) for _ in range(self.stage_ends[-1]))
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.proxy_embeds = nn.ModuleList([
            ProxyEmbedding(embed_dim, num_heads, attribute_proxies, "patches", mlp_ratio),  # AAP
            ProxyEmbedding(embed_dim, num_heads, 1, "class", mlp_ratio),  # IAP
            ProxyEmbedding(embed_dim, num_heads, attribute_proxies + 1, "all", mlp_ratio),  # AAP + IAP
        ])
        self.feature_dim = 3 * embed_dim
        self.bottleneck = nn.BatchNorm1d(self.feature_dim)
        self.bottleneck.bias.requires_grad_(False)
        self.classifier = nn.Linear(self.feature_dim, num_classes, bias=False)
        self._init_weights()

    def _init_weights(self) -> None:
        self.apply(init_vit_weights)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        for proxy in self.proxy_embeds:
            nn.init.trunc_normal_(proxy.proxies, std=0.02)
        for block in self.blocks:
            block.zero_temporal_output()
        nn.init.normal_(self.classifier.weight, std=0.001)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Video -> embedded tokens (N, T, 1 + h*w, D), patch shuffling applied in training."""
        frames = fold_frames(x, self.num_frames)
        grid = self.patch_embed.grid(frames.shape[-2], frames.shape[-1])
        patches = self.patch_embed(frames)  # (N*T, P, D)
        nt, p, d = patches.shape
        n = nt // self.num_frames
        patches = self.patch_shuffle(patches.view(n, self.num_frames, p, d)).reshape(nt, p, d)
        pos = self.pos_embed if grid == self.grid else resize_pos_embed(self.pos_embed, grid, source_grid=self.grid)
        tokens = torch.cat([self.cls_token.expand(nt, -1, -1), patches], dim=1) + pos
        return tokens.view(n, self.num_frames, 1 + p, d)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Video -> concatenated stage features (N, 3D), before the BN-neck."""
        x = self.tokens(x)
        time_embed = self.time_embed if self.temporal_attention else None
        stage_features, start = [], 0
        for stage, end in enumerate(self.stage_ends):
            for block in self.blocks[start:end]:
                x = block(x, time_embed)
            stage_tokens = self.norm(x) if stage == 2 else x
            stage_features.append(self.proxy_embeds[stage](stage_tokens))
            start = end
        return torch.cat(stage_features, dim=1)

    def forward_head(self, feature: torch.Tensor):
        """The re-id case of the contract: (logits, feature) in training, the embedding in eval."""
        if self.training:
            return self.classifier(self.bottleneck(feature)), feature
        return self.bottleneck(feature) if self.eval_feature == "bn" else feature

    def forward(self, x: torch.Tensor):
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        """A new identity classifier (no bias, as the BN-neck's)."""
        replace_linear(self, "classifier", num_classes)


def mstat_checkpoint_filter(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """ImageNet ViT-B/16 (timm or torchvision names) -> MSTAT's backbone keys; vbench keys pass.

    The ImageNet classifier is dropped and the position embedding resized to the model's
    patch grid (16x8 at 256x128).
    """
    return convert_vit_state_dict(state_dict, grid=getattr(model, "grid", None))


@register_model(
    classifier="classifier", method="MSTAT", paper=MSTAT_PAPER, year=2023, arxiv="2301.00531", code="", family="transformer",
    task="person re-identification", frames=8, size=(256, 128), num_classes=MARS_TRAIN_IDENTITIES,
    checkpoint_filter=mstat_checkpoint_filter, reconstruction=True,
    notes="reconstruction: no public code and no readable paper body; ViT-B/16, 3 stages of "
          "divided space-time (STA) blocks, proxy embeddings (AAP/IAP); output is the 2304-d re-id feature",
)
def mstat_vitb16(num_classes: int = MARS_TRAIN_IDENTITIES, num_frames: int = 8, embed_dim: int = 768,
                 num_heads: int = 12, stage_depths: tuple[int, ...] = (4, 4, 4), img_size: tuple[int, int] = (256, 128),
                 patch_size: int = 16, attribute_proxies: int = 4, shuffle_prob: float = 0.5,
                 shuffle_ratio: float = 0.25, eval_feature: str = "bn") -> nn.Module:
    """MSTAT on ViT-B/16 (smaller widths and depths for tests via embed_dim, num_heads, stage_depths)."""
    return MSTAT(num_classes=num_classes, num_frames=num_frames, img_size=tuple(img_size), patch_size=patch_size,
                 embed_dim=embed_dim, num_heads=num_heads, stage_depths=tuple(stage_depths),
                 attribute_proxies=attribute_proxies, shuffle_prob=shuffle_prob, shuffle_ratio=shuffle_ratio,
                 eval_feature=eval_feature)
