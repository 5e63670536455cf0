"""P3D ResNet: vbench against the PyTorch port (qijiezhao/pseudo-3d-pytorch) on the CPU.

    python benchmarks/p3d_vs_port.py PATH/TO/pseudo-3d-pytorch [--depth 199] [--rounds 7]

Builds the port's P3D63/P3D131/P3D199 (random weights; its ``p3d_model.py`` is imported
from the checkout given), loads its state dict into vbench's ``p3d_r<depth>`` with
``reference="port"`` through the model's checkpoint filter, runs both on the same
16x160x160 clip (the only input the port's fixed res5 reshape and 5x5 pooling take), and
prints the max logit difference and the median latency of each (interleaved runs),
plus vbench's default (official Caffe graph) for comparison.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import vbench  # noqa: E402
from _compare import interleaved_medians, max_logit_difference, randomise_norms, report  # noqa: E402
from _official import Pair, official_imports, shape_text  # noqa: E402
from vbench.models.checkpoint import apply_checkpoint_filter, load_state_dict  # noqa: E402


def pair(port: Path, depth: int = 199) -> Pair:
    """The port's P3D (random weights and BN) and ``p3d_r<depth>`` with ``reference="port"`` loaded from it."""
    with official_imports(port):
        import p3d_model

        torch.manual_seed(0)
        reference = randomise_norms(getattr(p3d_model, f"P3D{depth}")(num_classes=400))
    model = vbench.create_model(f"p3d_r{depth}", reference="port").eval()
    report = load_state_dict(model, apply_checkpoint_filter(reference.state_dict(), model))
    x = torch.randn(1, 3, 16, 160, 160)  # the only input the port's fixed res5 reshape and 5x5 pooling take
    difference, scale = max_logit_difference(reference, model, x)
    return Pair(f"p3d_r{depth}", lambda: reference(x), lambda: model(x), shape_text(x), difference,
                models={"official": reference, "vbench": model, "report": report, "x": x, "logit_scale": scale})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=Path, help="checkout of qijiezhao/pseudo-3d-pytorch (holds p3d_model.py)")
    parser.add_argument("--depth", type=int, default=199, choices=(63, 131, 199))
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    built = pair(args.port, args.depth)
    reference, model, x = built.models["official"], built.models["vbench"], built.models["x"]
    print("load:", built.models["report"].summary())
    caffe = vbench.create_model(f"p3d_r{args.depth}").eval()
    caffe.load_state_dict(model.state_dict())
    print(f"max |logit difference| = {built.max_logit_diff:.3g} (logits up to {built.models['logit_scale']:.3g}), "
          f"float32, input {tuple(x.shape)}, {torch.get_num_threads()} threads")
    medians = interleaved_medians({
        f"port P3D{args.depth}": lambda: reference(x),
        f"vbench p3d_r{args.depth} reference=port": lambda: model(x),
        f"vbench p3d_r{args.depth} (official Caffe graph)": lambda: caffe(x),
    }, args.rounds)
    report(f"CPU latency, batch 1, median of {args.rounds} interleaved runs:", medians, f"port P3D{args.depth}")


if __name__ == "__main__":
    main()
