"""BQN: Busy-Quiet Net (Huang and Bors, "Busy-Quiet Video Disentangling for Video
Classification", WACV 2022, arXiv 2103.15584; journal version "BQN: Busy-Quiet Net
Enabled by Motion Band-Pass Module for Action Recognition", IEEE TIP 31, 2022).

Which variant: ``bqn_r50`` is the ResNet-50 two-pathway network of
guoxih/busy-quiet-net ``src/bqn_resnet_reverse.py`` (read at commit 5d846a5), TSM-style
(every bottleneck of both pathways shifts 1/8 + 1/8 of its residual-branch channels),
16 segments by default, 256x256 input. That file is the one whose design the paper
describes: the quiet pathway runs at lower resolution (160/256 of the busy one) and
MBPMs sit on the lateral connections. The repository's other ResNet file,
``src/bqn_resnet.py`` (the one ``src/model.py`` imports), runs both pathways at full
resolution with 1x1-conv laterals in both directions in every block; it does not have
the paper's low-resolution quiet pathway, so vbench does not build it (its checkpoints
are refused with a message).

Paper row: the paper's params/GFLOPs tables could not be read for this port (no copy of
the paper body was reachable), so no row is checked; see reported/bqn.csv. The
published accuracies (PapersWithCode) are kept with status secondary.

The design, from the code:

- input: every segment brings 3 consecutive frames (``data_length = 3``, "HP"
  modality); vbench takes them as one clip (N, 3, T, H, W) with T = 3 S, segment-major.
- quiet pathway: the first frame of each segment, resized bilinearly to 160/256 of the
  input (256 -> 160), through a ResNet with TSM shifts (official ``path_c``, ``conv1``).
- busy pathway: the MBPM of the 3 frames (LoG 9x9, sigma 1.1, then [-1, 2, -1] / 3 over
  the frames) through a second ResNet with TSM shifts (``path_f``, ``d_conv1``).
- lateral connections after every block, alternating over the whole network (block 1,
  3, 5...: quiet += BN(resize(busy)); block 2, 4, 6...: busy += BN(resize(MBPM(quiet))),
  the MBPM over segments with LoG 7x7 in layer1-3 and 3x3 in layer4, sigma 0.9). The
  official code numbers the blocks with a class-level counter, so this parity holds for
  the first model built in a process (and for every ResNet-50, which has 16 blocks).
  Both BNs start at zero, so the two pathways start independent.
- head: global average pool of each pathway, dropout, one shared fc, mean of the two
  pathways' scores, then the mean over segments (TSN consensus).

vbench's choices where the official code cannot serve: the laterals resize to the other
pathway's feature size (the official ``scale_factor`` 1.6 / 0.625 gives the same sizes,
and the same values, at 256x256 only; at 224x224 the official model fails with a size
mismatch in layer2), so vbench takes any size from 96x96 up. Depth 18/34/101 use the
same design (the official code builds 50 and 101).

Counting: the band-pass filters' LoG kernels are depthwise convolutions and the input
filter's 3-tap kernel over a segment's frames an einsum, the resizes bilinear
interpolations: fvcore counts all of them (conv multiply-adds, 4 per interpolated
output element). The laterals' 3-tap filter over segments runs as multiply-adds
(vbench.models.modules.time_conv, faster than the official permute + conv1d) and is
counted as elementwise ops, 3 per element (0.06 GMACs at 16 x 3 x 256 x 256, where
vbench counts 121.13 GMACs with BN and 48.14M parameters at 400 classes).

Equivalence and speed against the official model (its weights randomised and converted
by ``bqn_filter``): ``benchmarks/ean_bqn_official.py bqn``; the figures, dated, are in
docs/findings.md.
"""

from __future__ import annotations

import re

import torch
from torch import nn
from torch.nn import functional as F

from vbench.errors import CheckpointError, VbenchError
from vbench.models.contract import replace_linear
from vbench.models.registry import register_model
from vbench.models.resnet import DEPTHS, LAYERS, BlockPlugins, ResNetTrunk
from vbench.models.modules.bqn import MotionBandPass
from vbench.models.modules.segments import split_segments
from vbench.models.modules.shift import TemporalShift

BQN_PAPER = "Busy-Quiet Video Disentangling for Video Classification"
FRAMES_PER_SEGMENT = 3
QUIET_SCALE = 160 / 256


class QuietFromBusy(nn.Module):
    """Busy features resized to the quiet pathway's size, then BN (official ``down``)."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels)

    def forward(self, busy: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return self.norm(F.interpolate(busy, size=size, mode="bilinear", align_corners=False))


class BusyFromQuiet(nn.Module):
    """The MBPM of the quiet features, resized to the busy pathway's size, then BN (official ``up``)."""

    def __init__(self, channels: int, segments: int, kernel_size: int, sigma: float = 0.9):
        super().__init__()
        self.band_pass = MotionBandPass(channels, segments, kernel_size, sigma, over="segments")
        self.norm = nn.BatchNorm2d(channels)

    def forward(self, quiet: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        busy = F.interpolate(self.band_pass(quiet), size=size, mode="bilinear", align_corners=False)
        return self.norm(busy)


def _zero_norm(lateral: nn.Module) -> nn.Module:
    nn.init.zeros_(lateral.norm.weight)
    nn.init.zeros_(lateral.norm.bias)
    return lateral


class BusyQuietNet(nn.Module):
    """Two TSM ResNets, quiet (low resolution) and busy (band-passed), joined after every block."""

    def __init__(self, depth: int = 50, *, num_classes: int, segments: int, dropout: float = 0.5,
                 quiet_scale: float = QUIET_SCALE, fold_div: int = 8, extra_plugins: BlockPlugins | None = None):
        super().__init__()
        if depth not in LAYERS:
            raise VbenchError(f"ResNet depth must be one of {sorted(LAYERS)}, got {depth}")
        self.segments = segments
        self.quiet_scale = quiet_scale
        plugins = BlockPlugins(pre=lambda spec: TemporalShift(spec.num_frames, fold_div))
        if extra_plugins is not None:  # another method's modules, in the blocks of both pathways
            plugins = plugins | extra_plugins
        self.quiet = ResNetTrunk(depth, num_frames=segments, plugins=plugins)
        self.busy = ResNetTrunk(depth, num_frames=segments, plugins=plugins)
        self.input_filter = MotionBandPass(3, segments, kernel_size=9, sigma=1.1, over="frames")
        self.laterals = nn.ModuleDict()
        block_number = 0
        for stage in range(1, 5):
            stage_laterals = nn.ModuleList()
            for block in getattr(self.quiet, f"layer{stage}"):
                block_number += 1
                channels = block.bn3.num_features if hasattr(block, "bn3") else block.bn2.num_features
                if block_number % 2:
                    stage_laterals.append(_zero_norm(QuietFromBusy(channels)))
                else:
                    kernel = 3 if stage == 4 else 7
                    stage_laterals.append(_zero_norm(BusyFromQuiet(channels, segments, kernel)))
            self.laterals[f"layer{stage}"] = stage_laterals
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(self.quiet.num_features, num_classes)
        nn.init.normal_(self.fc.weight, 0.0, 0.001)
        nn.init.zeros_(self.fc.bias)

    def split_input(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Video (N, 3, 3 S, H, W) -> (quiet frames (N*S, 3, h, w), busy frames (N*S, 3, H, W))."""
        segments = split_segments(x, self.segments, FRAMES_PER_SEGMENT, "BQN")
        n, c, _, _, h, w = segments.shape
        first = segments[:, :, :, 0].transpose(1, 2).reshape(n * self.segments, c, h, w)
        size = (int(h * self.quiet_scale), int(w * self.quiet_scale))
        quiet = F.interpolate(first, size=size, mode="bilinear", align_corners=False)
        return quiet, self.input_filter(segments)

    @staticmethod
    def _stem(trunk: ResNetTrunk, x: torch.Tensor) -> torch.Tensor:
        return trunk.maxpool(trunk.relu(trunk.bn1(trunk.conv1(x))))

    def pathways(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Video -> last-stage features of the quiet and the busy pathway, each (N*S, C', h, w)."""
        quiet, busy = self.split_input(x)
        quiet, busy = self._stem(self.quiet, quiet), self._stem(self.busy, busy)
        for stage in range(1, 5):
            blocks = zip(getattr(self.quiet, f"layer{stage}"), getattr(self.busy, f"layer{stage}"),
                         self.laterals[f"layer{stage}"])
            for quiet_block, busy_block, lateral in blocks:
                quiet, busy = quiet_block(quiet), busy_block(busy)
                if isinstance(lateral, QuietFromBusy):
                    quiet = quiet + lateral(busy, quiet.shape[-2:])
                else:
                    busy = lateral(quiet, busy.shape[-2:]) + busy
        return quiet, busy

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Video -> (N, 2 C', S, 1, 1): each pathway pooled over space, quiet channels then busy.

        The two pathways end on different grids (the quiet one at 160/256 of the busy
        one's), so each is pooled over space before they meet, as two-pathway networks'
        heads do (SlowFast pools each pathway and concatenates the channels).
        """
        quiet, busy = self.pathways(x)
        pooled = torch.cat((F.adaptive_avg_pool2d(quiet, 1), F.adaptive_avg_pool2d(busy, 1)), dim=1)
        return pooled.view(-1, self.segments, pooled.shape[1]).transpose(1, 2).unsqueeze(-1).unsqueeze(-1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """One shared fc on each pathway's features, their mean, then the mean over segments."""
        channels = features.shape[1] // 2
        per_segment = features.flatten(2).transpose(1, 2).flatten(0, 1)  # (N*S, 2 C')
        pooled = torch.cat((per_segment[:, :channels], per_segment[:, channels:]))
        scores = self.fc(self.dropout(pooled))
        scores = (scores[: len(per_segment)] + scores[len(per_segment):]) / 2
        return scores.view(-1, self.segments, scores.shape[-1]).mean(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        replace_linear(self, "fc", num_classes)


_TRUNK_KEY = re.compile(r"^(conv1|bn1|layer\d\.\d+)\.")
_OFFICIAL_MARKERS = (".path_c.", ".path_f.", "d_conv1.", "d_bn1.", "mbpf1.")


def _official_key(key: str) -> str:
    key = re.sub(r"^(conv1|bn1)\.", r"quiet.\1.", key)
    key = re.sub(r"^d_(conv1|bn1)\.", r"busy.\1.", key)
    key = re.sub(r"^(layer\d\.\d+)\.path_c\.", r"quiet.\1.", key)
    key = re.sub(r"^(layer\d\.\d+)\.path_f\.", r"busy.\1.", key)
    key = re.sub(r"^(layer\d)\.(\d+)\.mbpf\.conv_s\.weight$", r"laterals.\1.\2.band_pass.spatial", key)
    key = re.sub(r"^(layer\d)\.(\d+)\.mbpf\.conv_t\.weight$", r"laterals.\1.\2.band_pass.temporal", key)
    key = re.sub(r"^(layer\d)\.(\d+)\.(up|down)\.1\.", r"laterals.\1.\2.norm.", key)
    key = key.replace("mbpf1.conv_s.weight", "input_filter.spatial").replace("mbpf1.conv_t.weight", "input_filter.temporal")
    return key


def bqn_filter(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Map busy-quiet-net key names (``bqn_resnet_reverse.py``) to vbench's.

    Official keys (under ``base_model.`` in its TSN wrapper): ``conv1``/``bn1`` and
    ``layerX.Y.path_c`` (quiet), ``d_conv1``/``d_bn1`` and ``layerX.Y.path_f`` (busy),
    ``mbpf1.conv_s/conv_t`` (input MBPM), ``layerX.Y.mbpf.conv_s/conv_t`` and
    ``layerX.Y.up.1``/``down.1`` (laterals), ``fc``. A torchvision ImageNet state dict
    (bare ``conv1``/``layerX.Y`` keys and no official ones) initialises both pathways.
    vbench keys pass through unchanged.
    """
    keys = [k.removeprefix("base_model.") for k in state_dict]
    if any(".d_up." in k or ".d_down." in k for k in keys):
        raise CheckpointError("this checkpoint is of busy-quiet-net's full-resolution variant (src/bqn_resnet.py, "
                              "1x1-conv laterals), which vbench does not build; bqn_r50 is src/bqn_resnet_reverse.py")
    official = any(marker in k for k in keys for marker in _OFFICIAL_MARKERS)
    out = {}
    for key, value in zip(keys, state_dict.values()):
        if official:
            out[_official_key(key)] = value
        elif _TRUNK_KEY.match(key):  # torchvision: the same ImageNet trunk for both pathways
            out["quiet." + key] = value
            out["busy." + key] = value
        else:
            out[key] = value
    return out


@register_model(
    classifier="fc", method="BQN", paper=BQN_PAPER, year=2022, arxiv="2103.15584", code="guoxih/busy-quiet-net (src/bqn_resnet_reverse.py)",
    family="two-pathway", depths=DEPTHS, checkpoint_filter=bqn_filter, frames=48, size=(256, 256),
    notes="T = 3 frames x segments (48 = 16 segments); quiet pathway at 160/256 resolution",
)
def bqn_r50(num_classes: int = 400, num_frames: int = 48, depth: int = 50, dropout: float = 0.5,
            quiet_scale: float = QUIET_SCALE, extra_plugins: BlockPlugins | None = None, **options) -> nn.Module:
    """BQN, ResNet two-pathway (TSM-style): ``num_frames`` = 3 x segments."""
    if num_frames % FRAMES_PER_SEGMENT:
        raise VbenchError(f"BQN reads {FRAMES_PER_SEGMENT} consecutive frames per segment: num_frames must be a "
                          f"multiple of {FRAMES_PER_SEGMENT} (48 = 16 segments, 24 = 8), got {num_frames}")
    if options:
        raise VbenchError(f"bqn_r50 does not take {', '.join(options)}; its options: depth, dropout, quiet_scale, "
                          "extra_plugins")
    return BusyQuietNet(depth, num_classes=num_classes, segments=num_frames // FRAMES_PER_SEGMENT,
                        dropout=dropout, quiet_scale=quiet_scale, extra_plugins=extra_plugins)
