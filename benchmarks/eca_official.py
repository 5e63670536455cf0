"""ECA-ResNet: the official implementation beside vbench's, same weights, same image.

    python benchmarks/eca_official.py /path/to/ECANet [--depth 50] [--size 224] [--batch 1] [--rounds 10]

Builds the official ``models.eca_resnet{depth}`` with the released checkpoints' kernels
(k3577, k3357, k3557, k3357 for depths 18, 34, 50, 101), gives it random weights, saves
them as an official checkpoint (``module.`` keys, ``state_dict`` wrapper), loads that
into vbench's ``eca_r{depth}`` through its converter and prints the max abs logit
difference, both CPU latencies (interleaved medians) and the ECA modules' parameters.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from _official import Pair, interleaved_medians, official_checkpoint, official_imports, quiet, randomize_, shape_text

import vbench
from vbench.models import load_checkpoint
from vbench.models.eca import RELEASED_KERNELS


def pair(official_path: str, depth: int = 50, size: int = 224, batch: int = 1) -> Pair:
    """The official ``eca_resnet{depth}`` (released kernels, random weights) and vbench's loaded from its checkpoint."""
    kernels = list(RELEASED_KERNELS[depth])
    with official_imports(official_path), quiet():
        from models import eca_resnet

        official = randomize_(getattr(eca_resnet, f"eca_resnet{depth}")(k_size=kernels).eval())
    model = vbench.create_model(f"eca_r{depth}").eval()
    with tempfile.TemporaryDirectory() as tmp:
        report = load_checkpoint(model, official_checkpoint(official, Path(tmp) / "eca.pth.tar"))
    torch.manual_seed(0)
    x = torch.randn(batch, 3, size, size)
    with torch.inference_mode():
        ours, theirs = model(x), official(x)
    return Pair(f"eca_r{depth}", lambda: official(x), lambda: model(x), shape_text(x),
                (ours - theirs).abs().max().item(),
                models={"official": official, "vbench": model, "report": report, "kernels": kernels,
                        "logit_scale": theirs.abs().max().item()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("official")
    parser.add_argument("--depth", type=int, default=50, choices=sorted(RELEASED_KERNELS))
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    built = pair(args.official, args.depth, args.size, args.batch)
    model, kernels = built.models["vbench"], built.models["kernels"]
    eca_params = sum(p.numel() for n, p in model.named_parameters() if ".post." in n)
    print(f"eca_r{args.depth} (k{''.join(map(str, kernels))}): {built.models['report'].summary()}; "
          f"ECA parameters {eca_params}")
    print(f"logits: max |vbench - official| = {built.max_logit_diff:.2e} "
          f"(max |logit| {built.models['logit_scale']:.3g})")
    times = interleaved_medians({"official": built.official, "vbench": built.vbench}, args.rounds)
    print(f"CPU latency, {torch.get_num_threads()} threads, {args.batch}x3x{args.size}x{args.size}, "
          f"median of {args.rounds} interleaved runs: official {times['official']:.1f} ms, vbench {times['vbench']:.1f} ms")


if __name__ == "__main__":
    main()
