"""TSN: Temporal Segment Networks (Wang et al., ECCV 2016, arXiv 1608.00859).

The baseline of every paper in the zoo: a 2D ResNet runs on each of T frames (one per
segment), and the frame scores are averaged ("average consensus"). Built here as the
TSM code base builds its TSN baseline (mit-han-lab/temporal-shift-module,
``ops/models.py``): torchvision ResNet, dropout then ``new_fc`` on every frame, mean of
the frame scores. Order-blind by construction: any permutation of the frames gives the
same output.
"""

from __future__ import annotations

from torch import nn

from vbench.models.common import tsm_codebase_filter
from vbench.models.registry import register_model
from vbench.models.resnet import DEPTHS, video_resnet

TSN_PAPER = "Temporal Segment Networks: Towards Good Practices for Deep Action Recognition"


@register_model(
    method="TSN", paper=TSN_PAPER, classifier="head.fc", year=2016, arxiv="1608.00859",
    code="mit-han-lab/temporal-shift-module (TSN baseline)", family="baseline",
    depths=DEPTHS, checkpoint_filter=tsm_codebase_filter,
)
def tsn_r50(num_classes: int = 400, num_frames: int = 8, depth: int = 50, dropout: float = 0.5, **options) -> nn.Module:
    """TSN with a ResNet trunk: per-frame network, average consensus."""
    return video_resnet(depth=depth, num_classes=num_classes, num_frames=num_frames, dropout=dropout, **options)
