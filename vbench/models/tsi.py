"""TSI: Temporal Saliency Integration (Su, Feng, Wang, Gan, Wu, Qiao; arXiv 2106.01088).

A RECONSTRUCTION, not a port. No public code was found (code corpus and GitHub searched
for TSI / temporal saliency integration / its module names), and no readable paper body:
the ar5iv copy of 2106.01088 and the abstract pages (arXiv, Papers with Code, Emergent
Mind, scholarfeed, acemap) give only the abstract and the first lines of the
introduction; no figure, table, layer placement or hyper-parameter. So no params,
GFLOPs or accuracy of the paper could be checked, and this model is held to none.

Version followed: the abstract of arXiv v4 (ar5iv and scholarfeed's "2106.01088v4"):
a TSI block of a Salient Motion Excitation (SME) module and a Cross-perception Temporal
Integration (CTI) module; "SME highlights the motion-sensitive area through spatial-level
local-global motion modelling, where saliency alignment and pyramidal motion modelling
are conducted successively between adjacent frames"; "CTI performs multi-perception
temporal modelling through a group of separate 1D convolutions; temporal interactions
across perceptions are integrated with the attention mechanism". Earlier abstracts name
CTI "Cross-scale Temporal Integration" and describe SME's two steps as "background
suppression and pyramidal feature difference" (one copy, on acemap) and "saliency
alignment and pyramidal feature difference" (Papers with Code, SOTAVerified); the
renaming tells what the steps are. Datasets per the abstract: Something-Something V1 and
V2, Kinetics-400, UCF-101, HMDB-51.

Choices, each with its reason:

- Trunk and head: torchvision ResNet-50 with frames folded into the batch and TSN's
  average-consensus head, as TEA and TSM (the abstract compares with "existing
  state-of-the-art methods [that] exploit neighbouring feature differences", i.e. TEA's ME
  and TDN, which are built this way). Trunk keys stay torchvision's, so ImageNet weights
  load. Depths 18/34/101 use the same block modules.
- Placement: one TSI block in every residual block, on the residual branch after the
  first 1x1 conv and before the 3x3 conv (the ``mid`` slot): where TEA puts its ME and
  TANet its TAM; SME first, then CTI (the abstract's order), then the block's own 3x3
  conv, so temporal then spatial as in (2+1)D factorisations. In a basic block (depth
  18/34) the ``mid`` slot is the block input.
- SME, "salient motion excitation" (``temporal/tsi.py``):
  * channel reduction r = 16 by 1x1 conv + BN, TEA ME's ratio;
  * "saliency alignment" (formerly "background suppression"): a one-channel spatial
    saliency map of each frame (3x3 conv, sigmoid) weights that frame's features before
    two neighbours are compared, so regions salient in neither (background, whose
    misalignment under camera motion is the noise the abstract names) add little to the
    difference;
  * motion of frame t = saliency-weighted frame t+1 minus frame t, as TEA (the last frame
    gets zero motion);
  * "pyramidal motion modelling", "spatial-level local-global": three bias-free levels
    summed: a 3x3 conv at full resolution (local), a 3x3 conv at half resolution
    (average pool, nearest upsampling back, as TDN's multi-scale difference), and a 1x1
    conv of the globally pooled motion (global, TEA ME's squeeze);
  * "highlight the motion-sensitive area": a 1x1 conv back to C channels gives a
    channel-and-position map ``A = sigmoid(.) - 0.5`` and the output ``x + x * A`` (TDN's
    residual excitation; a plain ``sigmoid`` would halve static features). Nothing with
    a bias or a norm follows the difference, so a static clip gives exactly zero motion
    and passes through unchanged (tested).
- CTI, "cross-perception temporal integration":
  * "a group of separate 1D convolutions": channel-wise temporal convolutions with
    kernel sizes 3, 5 and 7 (three receptive fields, "perceptions"; channel-wise as TEA's
    MTA and TAM's temporal convs, which keeps the parameter cost small as claimed);
  * "interactions across perceptions integrated with attention": selective-kernel
    attention (SKNet): z = global average of the branches' sum, fc (C -> max(C/16, 32)),
    ReLU, fc to K*C logits, softmax over the K perceptions per channel (the weights sum
    to one, tested); output = attention-weighted sum of the branches;
  * every branch starts as the identity (centre tap 1), so a TSI network starts as TSN
    with SME (the way TSM-family temporal convs are initialised to keep ImageNet
    features).
- Frames: SME needs a neighbour, so at least 2 frames; any T >= 2 works (zero padding at
  the clip ends).

Speed: CTI's branches are never run one by one. Because the attention does not vary over
time or space, sum_k a_k (w_k * x) = (sum_k a_k w_k) * x, so CTI is one depthwise
temporal conv with a per-sample fused kernel, and its attention input is exact from the
spatially pooled clip. ``benchmarks/tsi_cti_variants.py`` checks the fused form against
the literal branch-by-branch form and a single grouped conv of all branches, and times
them.
"""

from __future__ import annotations

from torch import nn

from vbench.errors import VbenchError
from vbench.models.registry import register_model
from vbench.models.resnet import DEPTHS, BlockPlugins, BlockSpec, video_resnet
from vbench.models.temporal.tsi import TemporalSaliencyIntegration

TSI_PAPER = "TSI: Temporal Saliency Integration for Video Action Recognition"


def tsi_plugins(sme_reduction: int = 16, kernel_sizes: tuple[int, ...] = (3, 5, 7),
                cti_reduction: int = 16) -> BlockPlugins:
    """A TSI block (SME then CTI) before the spatial conv of every residual block."""

    def tsi(spec: BlockSpec) -> nn.Module:
        return TemporalSaliencyIntegration(spec.width, spec.num_frames, sme_reduction, kernel_sizes, cti_reduction)

    return BlockPlugins(mid=tsi)


@register_model(
    method="TSI", paper=TSI_PAPER, year=2021, arxiv="2106.01088", code="",
    family="motion", depths=DEPTHS, reconstruction=True,
    notes="Reconstruction from the abstract (arXiv v4): no public code, no readable paper body.",
)
def tsi_r50(num_classes: int = 400, num_frames: int = 8, depth: int = 50, dropout: float = 0.5,
            sme_reduction: int = 16, kernel_sizes: tuple[int, ...] = (3, 5, 7), cti_reduction: int = 16,
            **options) -> nn.Module:
    """TSI (reconstruction): SME + CTI in every block of a ResNet, TSN's head."""
    if num_frames < 2:
        raise VbenchError(f"TSI models motion between neighbouring frames and needs at least 2 frames, "
                          f"got num_frames={num_frames}")
    return video_resnet(depth=depth, num_classes=num_classes, num_frames=num_frames, dropout=dropout,
                        plugins=tsi_plugins(sme_reduction, tuple(kernel_sizes), cti_reduction), **options)
