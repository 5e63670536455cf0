"""R(2+1)D-18: vbench against torchvision's r2plus1d_18 on the CPU, same weights and input.

    python benchmarks/r2plus1d_vs_torchvision.py [--frames 16] [--size 112] [--rounds 15]

torchvision's r2plus1d_18 (random weights) is saved to a state dict, loaded into
``r2plus1d_r18`` with ``midplanes="per_block"`` through ``vbench.models.load_checkpoint``,
and both run on the same clip: prints the max logit difference and the median latency
of each (interleaved runs), and the paper's per-conv variant for comparison.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import vbench  # noqa: E402
from _compare import interleaved_medians, max_logit_difference, randomise_norms, report  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    torch.manual_seed(0)
    reference = randomise_norms(torchvision.models.video.r2plus1d_18(weights=None))
    model = vbench.create_model("r2plus1d_r18", midplanes="per_block").eval()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "r2plus1d_18.pth"
        torch.save(reference.state_dict(), path)
        print("load:", vbench.models.load_checkpoint(model, path).summary())
    paper = vbench.create_model("r2plus1d_r18").eval()
    x = torch.randn(1, 3, args.frames, args.size, args.size)
    difference, scale = max_logit_difference(reference, model, x)
    print(f"max |logit difference| = {difference:.3g} (logits up to {scale:.3g}), float32, "
          f"input {tuple(x.shape)}, {torch.get_num_threads()} threads")
    medians = interleaved_medians({
        "torchvision r2plus1d_18": lambda: reference(x),
        "vbench r2plus1d_r18 midplanes=per_block": lambda: model(x),
        "vbench r2plus1d_r18 (paper, per conv)": lambda: paper(x),
    }, args.rounds)
    report(f"CPU latency, batch 1, median of {args.rounds} interleaved runs:", medians, "torchvision r2plus1d_18")


if __name__ == "__main__":
    main()
