"""TSM: Temporal Shift Module (Lin, Gan, Han; ICCV 2019, arXiv 1811.08383).

TSN's network with a temporal shift on the residual branch of every block, before its
first conv (the "blockres" place of the official code), in the offline bidirectional
setting that all the paper's accuracy tables use: 1/8 of the channels from frame t+1,
1/8 from frame t-1, zeros at the clip ends. Checked against
mit-han-lab/temporal-shift-module (``ops/temporal_shift.py``, ``ops/models.py``):

- the shift wraps ``conv1`` of each block, so it sees the block input only on the
  residual branch; the shortcut is not shifted;
- for trunks whose layer3 has 23 blocks or more (ResNet-101) the official code shifts
  every other block only (``n_round = 2``: blocks 0, 2, 4... of every stage); vbench
  does the same at depth 101;
- head as TSN (dropout, fc on every frame, average).

No parameters and no multiply-adds beyond TSN's: tsm_r50 has TSN's 24.3M params and
33 GFLOPs at 8x224x224.
"""

from __future__ import annotations

from torch import nn

from vbench.models.common import tsm_codebase_filter
from vbench.models.registry import register_model
from vbench.models.resnet import DEPTHS, BlockPlugins, BlockSpec, video_resnet
from vbench.models.modules.shift import TemporalShift

TSM_PAPER = "TSM: Temporal Shift Module for Efficient Video Understanding"


def shift_plugins(depth: int, fold_div: int = 8) -> BlockPlugins:
    """TSM's residual shift in every block (every other block at depth >= 101)."""
    every = 2 if depth >= 101 else 1

    def shift(spec: BlockSpec) -> nn.Module | None:
        return TemporalShift(spec.num_frames, fold_div) if spec.index % every == 0 else None

    return BlockPlugins(pre=shift)


@register_model(
    classifier="head.fc", method="TSM", paper=TSM_PAPER, year=2019, arxiv="1811.08383",
    code="mit-han-lab/temporal-shift-module", family="shift",
    depths=DEPTHS, checkpoint_filter=tsm_codebase_filter,
)
def tsm_r50(num_classes: int = 400, num_frames: int = 8, depth: int = 50, dropout: float = 0.5,
            fold_div: int = 8, **options) -> nn.Module:
    """TSM: TSN plus the bidirectional residual temporal shift (1/fold_div each way)."""
    return video_resnet(depth=depth, num_classes=num_classes, num_frames=num_frames, dropout=dropout,
                        plugins=shift_plugins(depth, fold_div), **options)
