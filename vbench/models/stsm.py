"""STSM: Spatio-Temporal Shift Module for Efficient Action Recognition (Yang, An, Zhang; arXiv
2112.02523; Mathematics 10(18):3290, 2022).

RECONSTRUCTION (``reconstruction=True``): no public code, and the paper's body could not be
read here; only its abstract (plug-and-play, no added parameters or computation, a shift is
a convolution with a sparse kernel; evaluated on Kinetics-400 and Something-Something V2).
The shift itself and its proportions are documented in ``vbench/models/modules/stsm.py``.
Choices made here, with their reasons:

- host: TSN's ResNet (``tsn_r50``) and head, as the issue registers it and as TSM, the
  method STSM extends, is built;
- place: the residual branch of every block, before its first conv (TSM's "residual shift",
  the placement TSM found best; the shortcut is not shifted); every block at every depth
  (TSM's every-other-block rule at depth 101 is TSM's own choice, not assumed here);
- as a plug-in, ``stsm_plugins()`` fills the ``pre`` slot of any trunk model:
  ``create_model("tsm_r50", extra_plugins=stsm_plugins())`` runs STSM's shift before TSM's.

It adds no parameters and no multiply-adds: ``stsm_r50`` has TSN's 24.3M params and 33
GFLOPs at 8 x 224 x 224 (conv + fc, as the TSM paper counts TSN).
"""

from __future__ import annotations

from torch import nn

from vbench.models.common import tsm_codebase_filter
from vbench.models.registry import register_model
from vbench.models.resnet import DEPTHS, BlockPlugins, BlockSpec, video_resnet
from vbench.models.modules.stsm import SpatioTemporalShift

STSM_PAPER = "STSM: Spatio-Temporal Shift Module for Efficient Action Recognition"


def stsm_plugins(temporal_div: int = 8, spatial_div: int = 16) -> BlockPlugins:
    """STSM's spatio-temporal shift on the residual branch of every block (``pre`` slot)."""

    def shift(spec: BlockSpec) -> nn.Module:
        return SpatioTemporalShift(spec.num_frames, temporal_div, spatial_div)

    return BlockPlugins(pre=shift)


@register_model(
    classifier="head.fc", method="STSM", paper=STSM_PAPER, year=2022, arxiv="2112.02523", code="", family="shift",
    depths=DEPTHS, checkpoint_filter=tsm_codebase_filter, reconstruction=True,
    notes="reconstruction: no code and no readable paper body; shift design documented in the model file",
)
def stsm_r50(num_classes: int = 400, num_frames: int = 8, depth: int = 50, dropout: float = 0.5,
             temporal_div: int = 8, spatial_div: int = 16, **options) -> nn.Module:
    """STSM on TSN's ResNet: the spatio-temporal shift in every block's residual branch."""
    return video_resnet(depth=depth, num_classes=num_classes, num_frames=num_frames, dropout=dropout,
                        plugins=stsm_plugins(temporal_div, spatial_div), **options)
