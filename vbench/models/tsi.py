"""TSI: Temporal Saliency Integration (Su, Feng, Wang, Gan, Wu, Qiao; arXiv 2106.01088).

A RECONSTRUCTION, not a port. No public code was found (code corpus and GitHub searched
for TSI / temporal saliency integration / its module names), and no readable paper body:
the ar5iv copy of 2106.01088 and the abstract pages (arXiv, Papers with Code, Emergent
Mind, scholarfeed, acemap) give only the abstract and the first lines of the
introduction; no figure, table, layer placement or hyper-parameter. So no params,
GFLOPs or accuracy of the paper could be checked, and this model is held to none.

Version followed: the abstract of arXiv v4 (as on ar5iv and scholarfeed's
"2106.01088v4"). In it a TSI block holds a Salient Motion Excitation (SME) module and a
Cross-perception Temporal Integration (CTI) module. SME highlights motion-sensitive
areas by spatial "local-global" motion modelling: a "saliency alignment" step and then
"pyramidal motion modelling", both between adjacent frames, so that less noise from
misaligned background (camera motion) enters the motion features. CTI models several
temporal "perceptions" with separate 1D convolutions and combines them with an
attention mechanism. Earlier versions' abstracts call CTI "Cross-scale Temporal
Integration" and SME's two steps "background suppression" (the copy on acemap) or
"saliency alignment" (Papers with Code, SOTAVerified) followed by "pyramidal feature
difference": the renaming says what the steps do. Datasets named in the abstract:
Something-Something V1 and V2, Kinetics-400, UCF-101, HMDB-51.

The closest public relative is TDN (Wang et al., CVPR 2021, MCG-NJU/TDN). The abstract
motivates TSI against methods that take motion cues from neighbouring feature
differences and model short-term time with a single local convolution of limited
receptive field; that is TDN's bottleneck (``ops/base_module.py``, ``BottleneckShift``):
after the first 1x1 conv, a multi-scale feature-difference excitation (``mSEModule``),
then one channel-wise temporal conv of kernel 3 initialised as TSM's shift
(``ShiftModule``), then the 3x3 conv. vbench builds TSI as that block with SME for the
excitation and CTI for the single temporal conv.

Choices, each with its reason:

- Trunk and head: torchvision ResNet-50, frames folded into the batch, TSN's
  average-consensus head, as TEA, TDN and TSM. Trunk keys stay torchvision's, so ImageNet
  weights load. Depths 18/34/101 use the same modules.
- Placement: one TSI block in every residual block, on the residual branch after the
  first 1x1 conv and before the 3x3 conv (the ``mid`` slot), SME then CTI (the
  abstract's order): where TDN puts ``mSEModule`` and ``ShiftModule`` and TEA its ME.
  In a basic block (depth 18/34) the ``mid`` slot is the block input.
- SME, salient motion excitation (``temporal/tsi.py``):
  * channel reduction r = 16 by 1x1 conv + BN (TEA's ME and TDN's ``mSEModule``);
  * saliency alignment (an earlier abstract calls this step "background suppression"):
    a one-channel spatial saliency map of each frame (3x3 conv, sigmoid) weights that
    frame's features before neighbours are compared, so that regions salient in
    neither frame (background, whose misalignment under camera motion is the noise the
    abstract names) add little to the difference;
  * motion of frame t = saliency-weighted frame t+1 minus frame t, the last frame gets
    zero motion (TEA; TDN's forward difference);
  * pyramidal, "spatial-level local-global" motion modelling: the sum of three
    bias-free levels: a 3x3 conv at full resolution (local), a 3x3 conv at half
    resolution (average pool, nearest upsampling back: TDN's ``conv3_smallscale2``
    path), and a 1x1 conv of the spatially pooled motion (global, TEA's squeeze);
  * excitation of the "motion-sensitive area": a 1x1 conv back to C channels gives a
    channel-and-position map ``A = sigmoid(.) - 0.5`` and the output ``x + x * A``,
    TDN's form. TDN puts BN after its difference convs; vbench does not, so that a
    clip without motion gives exactly zero motion and passes unchanged (tested).
- CTI, cross-perception temporal integration:
  * "a group of separate 1D convolutions": channel-wise temporal convolutions with
    kernel sizes 3, 5 and 7 (three receptive fields, "perceptions"; TDN's temporal conv
    is the kernel-3 member; channel-wise keeps the parameter cost "limited");
  * the attention that integrates the perceptions' interactions:
    selective-kernel attention (SKNet, Li et al. CVPR 2019): z = global average of the
    branches' sum, fc (C -> max(C/16, 32)), ReLU, fc to K*C logits, softmax over the K
    perceptions for every channel (the weights sum to one, tested); output = the
    attention-weighted sum of the branches;
  * every branch starts as TSM's shift (1/8 of the channels from frame t+1, 1/8 from
    t-1), TDN's ``ShiftModule`` initialisation: CTI starts as TSM whatever the attention.
- Frames: SME needs a neighbour, so at least 2 frames; any T >= 2 works (zero padding at
  the clip ends).

Cost per view, 224x224, 400 classes (vbench count, BN included): 25.13M params (TSN
24.33M); 33.44 GFLOPs at 8 frames (TSN 32.90) and 67.16 at 16 (TSN 65.79); no op left
uncounted. CTI's temporal conv runs as a T x T band matrix (below), so it is counted at T
MACs per output (8 or 16) rather than 7 taps: 0.13 and 0.50 GFLOPs.

Speed: CTI's branches are never run one by one. Because the attention does not vary over
time or space, sum_k a_k (w_k * x) = (sum_k a_k w_k) * x, so CTI is one depthwise
temporal conv with a per-sample fused kernel, and its attention input is exact from the
spatially pooled clip. That conv is applied as a batched matmul with its band matrix:
oneDNN's depthwise conv along T is pathologically slow on the CPU for some shapes. The
alternatives were measured (``python -m benchmarks.tsi_cti_variants --threads 1``; the
figures in docs/findings.md): this one is the fastest, to the same logits.
"""

from __future__ import annotations

from torch import nn

from vbench.errors import VbenchError
from vbench.models.registry import register_model
from vbench.models.resnet import DEPTHS, BlockPlugins, BlockSpec, video_resnet
from vbench.models.modules.tsi import TemporalSaliencyIntegration

TSI_PAPER = "TSI: Temporal Saliency Integration for Video Action Recognition"


def tsi_plugins(sme_reduction: int = 16, kernel_sizes: tuple[int, ...] = (3, 5, 7),
                cti_reduction: int = 16) -> BlockPlugins:
    """A TSI block (SME then CTI) before the spatial conv of every residual block."""

    def tsi(spec: BlockSpec) -> nn.Module:
        return TemporalSaliencyIntegration(spec.width, spec.num_frames, sme_reduction, kernel_sizes, cti_reduction)

    return BlockPlugins(mid=tsi)


@register_model(
    classifier="head.fc", method="TSI", paper=TSI_PAPER, year=2021, arxiv="2106.01088", code="",
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
