"""TCPNet: the official implementation beside vbench's, same weights, same clip.

    python benchmarks/tcp_official.py /path/to/Temporal-attentive-Covariance-Pooling-Networks-for-Video-Recognition \
        [--tsm] [--frames 8] [--size 224] [--rounds 10]

Builds the official ``ops.models.TSN(..., TCP=True)`` (ResNet-50, layer4 at stride 1),
gives it random weights, saves them as an official checkpoint, loads that into
``tcp_tsn_r50`` / ``tcp_tsm_r50`` through vbench's converter, and prints the max abs
logit difference, both CPU latencies (interleaved medians, whole model and head alone)
and both GMAC counts
(fvcore cannot see inside the official Covpool/Sqrtm autograd Functions; torch's
FlopCounterMode can). The official temporal conv's padding is set to its intent
(same-length output): its torch-version test misfires on torch >= 1.10.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from torch import nn

from _official import (Pair, dispatch_gmacs, interleaved_medians, official_checkpoint, official_imports, quiet,
                       randomize_, shape_text)

import vbench
from vbench.models import load_checkpoint
from vbench.models.resnet import refold_frames
from vbench.profiling.flops import count_flops


def fix_temporal_conv_padding(official: nn.Module) -> None:
    """Give the official conv_1d the padding of torch 1.5+ its version test meant: (k-1)//2 each side."""
    for module in official.modules():
        if hasattr(module, "conv_1d"):
            conv = module.conv_1d
            k = conv.kernel_size[0]
            fixed = nn.Conv3d(conv.in_channels, conv.out_channels, conv.kernel_size,
                              padding=((k - 1) // 2, 0, 0), padding_mode="circular")
            fixed.load_state_dict(conv.state_dict())
            module.conv_1d = fixed


def add_residual_shift(official: nn.Module, num_frames: int) -> None:
    """TSM's residual shift on every block's conv1, with the official ``TemporalShift`` (``.net`` wrapper).

    The official ``make_temporal_shift`` accepts only ``torchvision.models.ResNet``
    instances and raises NotImplementedError on the TCP code's own ResNet class, so the
    released code cannot build TSM + TCP; this does what its ``blockres`` branch does.
    """
    from ops.temporal_shift import TemporalShift

    for stage in ("layer1", "layer2", "layer3", "layer4"):
        for block in getattr(official.base_model, stage):
            block.conv1 = TemporalShift(block.conv1, n_segment=num_frames, n_div=8)


def pair(official_path: str, tsm: bool = False, frames: int = 8, size: int = 224) -> Pair:
    """The official TCP network (on TSN, or TSM with the official shift) and vbench's loaded from its checkpoint."""
    if (frames // 2) % 2:
        raise SystemExit("the official temporal conv (k = T//2 + 1, padding (k-1)//2) keeps the clip length "
                         "only for odd k: use 4, 8, 16... frames")
    with official_imports(official_path), quiet():
        from ops.models import TSN

        official = TSN(400, frames, "RGB", base_model="resnet50", dropout=0.5, TCP=True, TCP_dim=128,
                       TCP_ch=True, TCP_sp=True, TCP_1d=True)
        if tsm:
            add_residual_shift(official, frames)
    official.eval()  # its train() override returns None
    fix_temporal_conv_padding(official)
    randomize_(official)
    name = "tcp_tsm_r50" if tsm else "tcp_tsn_r50"
    model = vbench.create_model(name, num_frames=frames).eval()
    with tempfile.TemporaryDirectory() as tmp:
        report = load_checkpoint(model, official_checkpoint(official, Path(tmp) / "official.pth.tar"))
    torch.manual_seed(0)
    x = torch.randn(1, 3, frames, size, size)
    stacked = x.transpose(1, 2).reshape(1, 3 * frames, size, size)  # the TSN code's layout
    with torch.inference_mode():
        ours, theirs = model(x), official(stacked)
    return Pair(name, lambda: official(stacked), lambda: model(x), shape_text(x), (ours - theirs).abs().max().item(),
                models={"official": official, "vbench": model, "report": report, "x": x, "stacked": stacked,
                        "logit_scale": theirs.abs().max().item()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("official")
    parser.add_argument("--tsm", action="store_true")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    built = pair(args.official, args.tsm, args.frames, args.size)
    official, model = built.models["official"], built.models["vbench"]
    x, stacked = built.models["x"], built.models["stacked"]
    print(f"{built.name}: {built.models['report'].summary()}")
    print(f"logits: max |vbench - official| = {built.max_logit_diff:.2e} "
          f"(max |logit| {built.models['logit_scale']:.3g})")

    times = interleaved_medians({"official": lambda: official(stacked), "vbench": lambda: model(x)}, args.rounds)
    print(f"CPU latency, {torch.get_num_threads()} threads, 1x3x{args.frames}x{args.size}x{args.size}, "
          f"median of {args.rounds} interleaved runs: official {times['official']:.0f} ms, vbench {times['vbench']:.0f} ms")

    with torch.inference_mode():
        features = refold_frames(model.forward_features(x))  # (T, 2048, h, w): the same input for both heads
    official_head = lambda: official.new_fc(torch.flatten(official.base_model.TCP(features), 1))  # noqa: E731
    times = interleaved_medians({"official": official_head, "vbench": lambda: model.head(features)}, 5 * args.rounds)
    print(f"head alone on {tuple(features.shape)}: official {times['official']:.1f} ms, vbench {times['vbench']:.1f} ms; "
          f"GMACs official dispatch {dispatch_gmacs(official_head):.3f}, "
          f"vbench dispatch {dispatch_gmacs(lambda: model.head(features)):.3f}")

    counted = count_flops(model, x)
    print(f"GMACs: vbench fvcore+handles {counted.gflops:.3f} (dispatch {counted.dispatch_macs / 1e9:.3f}); "
          f"official dispatch {dispatch_gmacs(lambda: official(stacked)):.3f}; "
          f"official under fvcore {count_flops(official, stacked, audit=False).gflops:.3f} "
          "(its Covpool/Sqrtm/Triuvec are opaque PythonOps)")


if __name__ == "__main__":
    main()
