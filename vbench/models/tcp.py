"""TCPNet: Temporal-attentive Covariance Pooling Networks (Gao et al., NeurIPS 2021, arXiv 2110.14381).

The TCP head (``vbench.models.modules.tcp``: reduction to 128 channels, temporal
attention, clip covariance, Newton-Schulz square root, classifier on 8256 values) in
place of global average pooling. It is registered as the head ``"tcp"``, so any trunk
model takes it: ``create_model("tsm_r50", head="tcp")`` (that keeps the model's own
trunk strides; ``head_options={"dim": 64}`` changes the TCP dimension).

``tcp_tsn_r50`` and ``tcp_tsm_r50`` are the official backbones, checked against
ZilinGao/Temporal-attentive-Covariance-Pooling-Networks-for-Video-Recognition:
``ops/torchvision/resnet.py`` builds layer4 with stride 1 (``_make_layer(block, 512,
..., stride=1)``), so the last feature map is 14x14 at 224 pixels (16x16 at the 256-pixel
"full resolution" test crop of its scripts); ``ops/models.py`` puts the TCP module in
place of the ResNet's average pool, replaces ``fc`` by dropout (0.5 in every script) and
classifies with ``new_fc``. TSM is meant as that network with ``make_temporal_shift``
(residual shift in every block, 1/8 each way), but the released code cannot build it:
``make_temporal_shift`` accepts only ``torchvision.models.ResNet`` instances and raises
NotImplementedError on the TCP code's own ResNet class, and the README has no TSM + TCP
model. ``tcp_tsm_r50`` builds the intent (benchmarks/tcp_official.py wraps the official
``TemporalShift`` by hand to compare). Defaults of ``opts.py`` used by every script:
``TCP_dim 128``, ``TCP_ch``/``TCP_sp``/``TCP_1d`` on, ``TCP_level video``; the inner
reduction width 256 and 3 Newton-Schulz iterations are fixed in ``ops/TCP/TCP_module.py``.
The temporal conv's kernel depends on the frame count (k = T//2 + 1: 5 at 8 frames, 9
at 16), so a checkpoint fits only the frame count it was trained with.

Figures: the official README gives Kinetics-400 accuracies only; the paper's params and
GFLOPs tables could not be read for this port (see reported/tcp.csv). Params are
checked against the official construction instead (tests/test_tcp.py).
"""

from __future__ import annotations

import re

import torch
from torch import nn

from vbench.models.common import tsm_codebase_filter
from vbench.models.heads import register_head
from vbench.models.registry import register_model
from vbench.models.resnet import DEPTHS, video_resnet
from vbench.models.modules.tcp import TCPHead
from vbench.models.tsm import shift_plugins

TCP_PAPER = "Temporal-attentive Covariance Pooling Networks for Video Recognition"
TCP_CODE = "ZilinGao/Temporal-attentive-Covariance-Pooling-Networks-for-Video-Recognition"
TCP_STRIDES = (1, 2, 2, 1)  # layer4 at stride 1, as the official backbones


@register_head("tcp")
def tcp_head(in_features: int, num_classes: int, num_frames: int, dropout: float = 0.5, **options) -> nn.Module:
    """TCP in place of average pooling (options: dim, inner_dim, iterations, spatial, channel, temporal_conv)."""
    return TCPHead(in_features, num_classes, num_frames, dropout=dropout, **options)


# Official names (``base_model.TCP.`` after the TSN prefix) -> vbench's (``head.``).
_OFFICIAL_TCP = {
    "layer_reduce1.": "reduce.0.", "layer_reduce_bn1.": "reduce.1.",
    "layer_reduce2.": "reduce.3.", "layer_reduce_bn2.": "reduce.4.",
    "TCP_att.TSA.conv_phi_1.": "attention.spatial.query.", "TCP_att.TSA.conv_phi_2.": "attention.spatial.key.",
    "TCP_att.TSA.conv_phi0.": "attention.spatial.value.", "TCP_att.TSA.norm.": "attention.spatial.norm.",
    "TCP_att.TCA.g1.": "attention.channel.fc1.", "TCP_att.TCA.g2.": "attention.channel.fc2.",
    "TCP_att.conv_1d.": "attention.temporal_conv.",
}
# Older checkpoints (``layer4.iSQRT.``), as ``ops/keys_mapping.py`` renames them.
_OLD_STYLE = (
    ("att_module.conv_1.", "TCP_att.TCA.g1."), ("att_module.conv_2.", "TCP_att.TCA.g2."),
    ("att_module.sp_att.conv_theta.", "TCP_att.TSA.conv_phi_1."),
    ("att_module.sp_att.conv_phi.", "TCP_att.TSA.conv_phi_2."),
    ("att_module.sp_att.conv_g.", "TCP_att.TSA.conv_phi0."),
    ("att_module.sp_att.", "TCP_att.TSA."), ("att_module.", "TCP_att."),
)


def _tcp_key(name: str) -> str:
    for old, new in _OLD_STYLE:
        if name.startswith(old):
            name = new + name[len(old):]
            break
    for official, ours in _OFFICIAL_TCP.items():
        if name.startswith(official):
            return "head." + ours + name[len(official):]
    return "head." + name


def tcp_filter(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Map an official TSN/TSM + TCP checkpoint to vbench's keys.

    Official keys (``module.`` stripped by the loader): the trunk under ``base_model.``
    (TSM wraps each block's conv1 as ``conv1.net``), the head under ``base_model.TCP.``
    (``layer_reduce1``, ``layer_reduce_bn1``, ..., ``TCP_att.TSA.conv_phi_1``,
    ``TCP_att.TCA.g1``, ``TCP_att.conv_1d``) or, in older checkpoints, under
    ``base_model.layer4.iSQRT.`` with ``att_module`` names; the classifier ``new_fc``.
    """
    out = {}
    for key, value in tsm_codebase_filter(state_dict, model).items():
        match = re.match(r"^(?:TCP|layer4\.iSQRT)\.(.+)$", key)
        out[_tcp_key(match[1]) if match else key] = value
    return out


_COMMON = dict(paper=TCP_PAPER, classifier="head.fc", year=2021, arxiv="2110.14381", code=TCP_CODE, family="pooling head",
               depths=DEPTHS, checkpoint_filter=tcp_filter)


def _tcp_options(tcp_dim: int, iterations: int, options: dict) -> dict:
    head_options = {"dim": tcp_dim, "iterations": iterations, **options.pop("head_options", {})}
    options.setdefault("stage_strides", TCP_STRIDES)
    options.setdefault("head", "tcp")
    return {"head_options": head_options, **options}


@register_model(method="TCP", notes="TSN + TCP head, layer4 at stride 1", **_COMMON)
def tcp_tsn_r50(num_classes: int = 400, num_frames: int = 8, depth: int = 50, dropout: float = 0.5,
                tcp_dim: int = 128, iterations: int = 3, **options) -> nn.Module:
    """TSN trunk (layer4 at stride 1) with the TCP head."""
    return video_resnet(depth=depth, num_classes=num_classes, num_frames=num_frames, dropout=dropout,
                        **_tcp_options(tcp_dim, iterations, options))


@register_model(method="TCP", notes="TSM + TCP head, layer4 at stride 1", **_COMMON)
def tcp_tsm_r50(num_classes: int = 400, num_frames: int = 8, depth: int = 50, dropout: float = 0.5,
                tcp_dim: int = 128, iterations: int = 3, fold_div: int = 8, **options) -> nn.Module:
    """TSM trunk (residual shift in every block, layer4 at stride 1) with the TCP head."""
    return video_resnet(depth=depth, num_classes=num_classes, num_frames=num_frames, dropout=dropout,
                        plugins=shift_plugins(depth, fold_div), **_tcp_options(tcp_dim, iterations, options))
