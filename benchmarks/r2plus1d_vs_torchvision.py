"""R(2+1)D: vbench against torchvision's code on the CPU, same weights and input.

    python benchmarks/r2plus1d_vs_torchvision.py [--depth 18] [--frames 16] [--size 112] [--rounds 15]

Depth 18: torchvision's r2plus1d_18 (random weights) is saved to a state dict, loaded into
``r2plus1d_r18`` with ``midplanes="per_block"`` through ``vbench.models.load_checkpoint``,
and both run on the same clip: prints the max logit difference and the median latency
of each (interleaved runs), and the paper's per-conv variant for comparison.

Depth 34: VMZ's PyTorch R(2+1)D-34 (``pt/vmz/models``: torchvision's ``VideoResNet`` with
layers 3, 4, 6, 3, a (2+1)D conv that computes its mid-planes from its own widths, BN eps
1e-3), rebuilt here from torchvision's parts, against vbench's default ``r2plus1d_r34``
on the paper's 32-frame clips.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision.models.video.resnet import BasicBlock, R2Plus1dStem, VideoResNet

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import vbench  # noqa: E402
from _compare import interleaved_medians, max_logit_difference, randomise_norms, report  # noqa: E402
from _official import Pair, shape_text  # noqa: E402


class VMZConv2Plus1D(nn.Sequential):
    """VMZ's PyTorch (2+1)D conv: it ignores the mid-plane count the block hands it and
    computes M from its own input and output widths, as the paper does."""

    def __init__(self, in_planes: int, out_planes: int, midplanes_of_block: int, stride: int = 1, padding: int = 1):
        mid = (in_planes * out_planes * 3 * 3 * 3) // (in_planes * 3 * 3 + 3 * out_planes)
        super().__init__(
            nn.Conv3d(in_planes, mid, (1, 3, 3), (1, stride, stride), (0, padding, padding), bias=False),
            nn.BatchNorm3d(mid), nn.ReLU(inplace=True),
            nn.Conv3d(mid, out_planes, (3, 1, 1), (stride, 1, 1), (padding, 0, 0), bias=False))

    @staticmethod
    def get_downsample_stride(stride: int) -> tuple[int, int, int]:
        return (stride, stride, stride)


def vmz_r2plus1d_34() -> nn.Module:
    model = VideoResNet(BasicBlock, [VMZConv2Plus1D] * 4, [3, 4, 6, 3], R2Plus1dStem, num_classes=400)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm3d):
            m.eps = 1e-3
    return model


def pair(depth: int = 18, frames: int | None = None, size: int = 112) -> Pair:
    """torchvision's r2plus1d_18 (depth 18) or VMZ's R(2+1)D-34 (depth 34) and vbench's loaded from its state dict."""
    frames = frames or (16 if depth == 18 else 32)
    torch.manual_seed(0)
    if depth == 18:
        reference = randomise_norms(torchvision.models.video.r2plus1d_18(weights=None))
        model = vbench.create_model("r2plus1d_r18", midplanes="per_block").eval()
    else:
        reference = randomise_norms(vmz_r2plus1d_34())
        model = vbench.create_model("r2plus1d_r34").eval()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"r2plus1d_{depth}.pth"
        torch.save(reference.state_dict(), path)
        loaded = vbench.models.load_checkpoint(model, path)
    x = torch.randn(1, 3, frames, size, size)
    difference, scale = max_logit_difference(reference, model, x)
    return Pair(f"r2plus1d_r{depth}", lambda: reference(x), lambda: model(x), shape_text(x), difference,
                models={"official": reference, "vbench": model, "report": loaded, "x": x, "logit_scale": scale})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=18, choices=(18, 34))
    parser.add_argument("--frames", type=int, default=None, help="16 at depth 18, 32 at depth 34")
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    built = pair(args.depth, args.frames, args.size)
    reference, model, x = built.models["official"], built.models["vbench"], built.models["x"]
    print("load:", built.models["report"].summary())
    print(f"max |logit difference| = {built.max_logit_diff:.3g} (logits up to {built.models['logit_scale']:.3g}), "
          f"float32, input {tuple(x.shape)}, {torch.get_num_threads()} threads")
    if args.depth == 18:
        paper = vbench.create_model("r2plus1d_r18").eval()
        runs = {"torchvision r2plus1d_18": lambda: reference(x),
                "vbench r2plus1d_r18 midplanes=per_block": lambda: model(x),
                "vbench r2plus1d_r18 (paper, per conv)": lambda: paper(x)}
    else:
        runs = {"VMZ R(2+1)D-34 (torchvision parts)": lambda: reference(x), "vbench r2plus1d_r34": lambda: model(x)}
    medians = interleaved_medians(runs, args.rounds)
    report(f"CPU latency, batch 1, median of {args.rounds} interleaved runs:", medians, next(iter(runs)))


if __name__ == "__main__":
    main()
