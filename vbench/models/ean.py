"""EAN: Event Adaptive Network with the Latent Motion Code (Tian et al., IJCV 130(10) 2022,
arXiv 2107.10771), ported from tianyuan168326/EAN-Pytorch (``EAN_8f.py``, ``EAN_16f.py``,
``EAB_rfs555.py``, ``SOI_Tr.py``, ``TSN.py``; read at commit 5d846a5).

What the official code builds (ResNet-50, the only trunk its checkpoints use):

- input: S segments of 5 consecutive frames (8 x 5 = 40 frames for "EAN 8F", 80 for
  "16F"). vbench takes them as one clip (N, 3, T, H, W) with T = 5 S, segment-major
  (frames 0-4 are segment 0, ...), which is how the official loader stacks them
  (``new_length=5``). The trunk sees the middle frame of each segment (index 2); the
  LMC sees all five. ``num_frames`` must be a multiple of 5.
- trunk: torchvision ResNet-50 whose bottlenecks run TEA's motion excitation (1/16
  reduction) and a learnable depthwise temporal conv initialised as TSM's 1/8 + 1/8
  shift between ``conv1`` and ``conv2`` (vbench's ``mid`` slot). At depth 18/34 vbench
  puts the same pair in the basic block's ``mid`` slot; the official ``BasicBlock`` has
  none (its depth-18/34 models were never released).
- LMC on the stem: its output (after the max-pool) gets the latent motion code added
  (8F) or fused 0.6/0.2/0.2 with the code and a stacked-difference branch (16F); the
  two official files differ in this module only (and in ME's hard-coded segment
  count). ``stacked_lmc=None`` picks the file's design from the segment count (16
  segments: the 16F design), so that each official checkpoint loads into the model of
  its own segment count; pass True/False to choose.
- event adaptive blocks (dynamic-scale kernels, ratio 4) after the stem and after
  layer1, layer2, layer3 (``relation1..4``).
- head: the sparse transformer over 4 soft-selected tokens per segment (32 tokens at 8
  segments), added to the global average pool, then dropout and ``new_fc``.

Sizes: the official reshapes assume 224x224 (7x7 LMC patch grid, 56x56 stem output,
7x7 position embedding). vbench accepts any height and width that are multiples of 32:
the LMC's patches keep their size (16 px on the half-resolution differences, 8 px on
the stem) so the grid follows the input, and the transformer's position embedding is
resized bilinearly. At 224x224 this is exactly the official computation.

Not reproduced: unused modules of the official files hold parameters that never touch
the output (``bn2`` of the ResNet, ``bn2`` of every EAB, ``stm_proj2`` in the 8F file:
135,552 parameters at 8F); the converter drops them and vbench's parameter count leaves
them out.

Counting: fvcore with vbench's handles counts every op with arithmetic: the per-video
1x1x1 kernels (a batched matmul, its kernel expanded over the segments because fvcore's
matmul rule takes the batch from the first operand and would count one segment of a
broadcast matmul), the attention (vbench's SDPA handle), the soft token selection (an
einsum; the official broadcast multiply and sum, 0.0008 GMACs at 8F, is invisible to
fvcore), the pooling (vbench handles). Two formulations that are faster on the CPU
change the count slightly: the learnable shift's 3 multiply-adds per element are
elementwise ops rather than a conv (0.033 GMACs at 8F), and the 3x3x3 max-pool counts
9 + 3 taps instead of 27 (0.04 G). At 8 x 5 x 224 x 224: 37.35 GMACs with BN, 36.99M
parameters at 174 classes.

The event adaptive blocks run on folded frames (2D kernels for their 1x1x1 and 1x3x3
convs) instead of transposing every input to 3D and back. Equivalence and speed against
the official model: ``benchmarks/ean_bqn_official.py``; the figures, dated, are in
docs/findings.md.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from vbench.errors import VbenchError
from vbench.models.contract import replace_linear
from vbench.models.heads import ClipHead
from vbench.models.registry import register_model
from vbench.models.resnet import DEPTHS, BlockPlugins, BlockSpec, ResNetTrunk, refold_frames, unfold_frames
from vbench.models.modules.ean import (
    FRAMES_PER_SEGMENT,
    EanBlockTemporal,
    EventAdaptiveBlock,
    LatentMotionCode,
    SparseTransformer,
    lmc_check_size,
)
from vbench.models.modules.segments import split_segments

EAN_PAPER = "EAN: Event Adaptive Network for Enhanced Action Recognition"


class EAN(ResNetTrunk):
    """EAN on a vbench ResNet trunk: input (N, 3, 5 S, H, W), output (N, num_classes)."""

    def __init__(self, depth: int = 50, *, num_classes: int, segments: int, dropout: float = 0.5,
                 stacked_lmc: bool = False, extra_plugins: BlockPlugins | None = None, **trunk):
        def temporal(spec: BlockSpec) -> nn.Module:
            return EanBlockTemporal(spec.width, spec.num_frames)

        plugins = BlockPlugins(mid=temporal)
        if extra_plugins is not None:
            plugins = plugins | extra_plugins
        super().__init__(depth, num_frames=segments, plugins=plugins, **trunk)
        self.segments = segments
        expansion = self.num_features // 512
        self.lmc = LatentMotionCode(stacked=stacked_lmc)
        self.eab1 = EventAdaptiveBlock(64, segments)
        self.eab2 = EventAdaptiveBlock(64 * expansion, segments)
        self.eab3 = EventAdaptiveBlock(128 * expansion, segments)
        self.eab4 = EventAdaptiveBlock(256 * expansion, segments)
        self.sparse_transformer = SparseTransformer(self.num_features, segments)
        self.head = ClipHead(self.num_features, num_classes, dropout)

    def segment_frames(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, 5 S, H, W) -> (N, 3, S, 5, H, W), checking the clip."""
        frames = split_segments(x, self.segments, FRAMES_PER_SEGMENT, "EAN")
        lmc_check_size(*frames.shape[-2:])
        return frames

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Video (N, 3, 5 S, H, W) -> last-stage features (N, C', S, h, w)."""
        frames = self.segment_frames(x)
        middle = refold_frames(frames[:, :, :, FRAMES_PER_SEGMENT // 2])
        stem = self.maxpool(self.relu(self.bn1(self.conv1(middle))))
        out = self.eab1(self.lmc(frames, stem))
        out = self.eab2(self.layer1(out))
        out = self.eab3(self.layer2(out))
        out = self.eab4(self.layer3(out))
        return unfold_frames(self.layer4(out), self.segments)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """(N, C', S, h, w) -> logits: the sparse transformer, then dropout and ``head.fc``."""
        return self.head(self.sparse_transformer(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        replace_linear(self, "head.fc", num_classes)


# Official name -> vbench name, for the parts that were renamed (after ``base_model.``).
_EAB_PARTS = {
    "compress_c1": "compress", "expand_c1": "expand", "t_part2_conv": "temporal",
    "t_part3_conv": "temporal_dilated", "s_part2_conv": "spatial", "s_part3_conv": "spatial_dilated",
    "non_linear.0": "norm", "max_project": "max_project", "p_prod1": "kernel_context",
    "p_prod2.0": "kernel_generator",
}
_LMC_PARTS = {"stm_proj1": "patch_embed", "stm_st_model1": "context1", "stm_st_model2": "context2",
              "proj_back": "patch_unembed", "stack_diff_motion": "stacked_differences"}
_TRANSFORMER_PARTS = {"0.fn.norm": "attn_norm.norm", "0.fn.fn.to_qkv": "attn.to_qkv",
                      "0.fn.fn.to_out.0": "attn.to_out", "1.fn.norm": "ff_norm.norm", "1.fn.fn.net": "ff.net"}
_UNUSED = re.compile(r"^(bn2\.|relation\d\.bn2\.|stm_proj2\.)")


def _rename(key: str) -> str | None:
    key = key.removeprefix("base_model.")
    if _UNUSED.match(key):
        return None
    key = re.sub(r"^(new_fc|fc)\.", "head.fc.", key)
    key = re.sub(r"^(layer\d\.\d+)\.me\.", r"\1.mid.me.", key)
    key = re.sub(r"^(layer\d\.\d+)\.t_conv\.conv\.", r"\1.mid.t_conv.", key)
    if match := re.match(r"^relation(\d)\.(.+)$", key):
        stage, rest = match.groups()
        for old, new in _EAB_PARTS.items():
            if rest.startswith(old + "."):
                return f"eab{stage}.{new}{rest[len(old):]}"
        return f"eab{stage}.{rest}"
    for old, new in _LMC_PARTS.items():
        if key.startswith(old + "."):
            return f"lmc.{new}{key[len(old):]}"
    if key.startswith("sparse_transformer."):
        key = key.replace(".squeeze_l.", ".reduce.").replace(".expand_l.", ".expand.").replace(".Tr_BN.", ".out_norm.")
        if match := re.match(r"^sparse_transformer\.transformer\.layers\.(\d+)\.(.+)$", key):
            index, rest = match.groups()
            for old, new in _TRANSFORMER_PARTS.items():
                if rest.startswith(old + "."):
                    return f"sparse_transformer.layers.{index}.{new}{rest[len(old):]}"
    return key


def ean_filter(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Map an EAN-Pytorch checkpoint (``base_model.*``, ``new_fc.*``) to vbench's keys.

    The learnable shift's ``t_conv.conv.weight`` becomes ``mid.t_conv.weight``; ME moves
    under ``mid``; ``relationK`` becomes ``eabK``, the LMC's ``stm_*``/``proj_back``
    become ``lmc.*``; the transformer's ``Residual(PreNorm(...))`` wrappers are
    flattened. Tensors of unused official modules are dropped. vbench and torchvision
    keys pass through unchanged.
    """
    out = {}
    for key, value in state_dict.items():
        new = _rename(key)
        if new is not None:
            out[new] = value
    return out


@register_model(
    classifier="head.fc", method="EAN", paper=EAN_PAPER, year=2022, arxiv="2107.10771", code="tianyuan168326/EAN-Pytorch",
    family="attention", depths=DEPTHS, checkpoint_filter=ean_filter, frames=40,
    notes="T = 5 frames x segments (40 = 8 segments); H, W multiples of 32; RGB + LMC",
)
def ean_r50(num_classes: int = 400, num_frames: int = 40, depth: int = 50, dropout: float = 0.5,
            stacked_lmc: bool | None = None, **options) -> nn.Module:
    """EAN (RGB + LMC): ``num_frames`` = 5 x segments; ``stacked_lmc`` None follows the official file."""
    if num_frames % FRAMES_PER_SEGMENT:
        raise VbenchError(f"EAN reads {FRAMES_PER_SEGMENT} consecutive frames per segment: num_frames must be a "
                          f"multiple of {FRAMES_PER_SEGMENT} (40 = 8 segments, 80 = 16), got {num_frames}")
    if "head" in options:
        raise VbenchError("EAN has its own head (the sparse transformer); it does not take head=")
    segments = num_frames // FRAMES_PER_SEGMENT
    if stacked_lmc is None:
        stacked_lmc = segments == 16
    return EAN(depth, num_classes=num_classes, segments=segments, dropout=dropout, stacked_lmc=stacked_lmc, **options)
