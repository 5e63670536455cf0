"""TAda2D: vbench against the official implementation, same weights, same input (CPU).

    PYTHONPATH=. python benchmarks/tada2d_official.py /path/to/TAdaConv [--frames 8] [--size 256] [--depth 50]

``/path/to/TAdaConv`` is a checkout of alibaba-mmai-research/TAdaConv; its model is built
from its own ``configs/pool/backbone/tada2d.yaml`` and ``BaseVideoModel``. Every tensor of
the official model (random weights, random BN statistics, the zero-initialised calibration
and aggregation made non-zero so that they matter) goes through vbench's converter
(``tada_checkpoint_filter``) into ``tada2d_r50``. Prints the largest logit difference
(the official head's softmax is switched off to compare logits), both models' latency
(batch 1, interleaved runs, medians) and both fvcore counts.

The official package imports ``einops`` for its transformer blocks only; a stand-in is
used when it is not installed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import types
from pathlib import Path

import torch
import yaml
from torch import nn

import vbench
from vbench.models.checkpoint import apply_checkpoint_filter, load_state_dict

from _official import Pair, official_imports, shape_text


def _namespace(value):
    if isinstance(value, dict):
        return types.SimpleNamespace(**{k: _namespace(v) for k, v in value.items()})
    return value


def official_model(checkout: Path, depth: int, frames: int, size: int, classes: int) -> nn.Module:
    with official_imports(checkout):
        try:
            import einops  # noqa: F401
        except ImportError:
            sys.modules["einops"] = types.SimpleNamespace(rearrange=None, repeat=None)
        from tadaconv.models.base.models import BaseVideoModel

        config = yaml.safe_load((Path(checkout) / "configs/pool/backbone/tada2d.yaml").read_text())
        config["VIDEO"]["BACKBONE"]["DEPTH"] = depth
        config["VIDEO"]["HEAD"].update(NUM_CLASSES=classes, DROPOUT_RATE=0.5)
        config.update(BN={"MOMENTUM": 0.1, "EPS": 1e-5, "FREEZE": False}, VISUALIZATION={"ENABLE": False},
                      DATA={"TRAIN_CROP_SIZE": size, "NUM_INPUT_FRAMES": frames})
        model = BaseVideoModel(_namespace(config)).eval()
    model.head.activation = nn.Identity()  # logits, not the eval-time softmax
    return model


def randomise(model: nn.Module, x: torch.Tensor) -> None:
    """Non-trivial weights everywhere, including the parts that start at zero, and BN
    statistics taken from ``x`` (one pass in training mode) so that activations stay sane."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith(("num_batches_tracked", "running_mean", "running_var")):
                continue
            noise = torch.randn(tensor.shape, generator=generator)
            if name.endswith("bias"):
                tensor.copy_(0.1 * noise)
            elif tensor.dim() == 1:  # BN scales (the aggregation's included)
                tensor.copy_(1 + 0.2 * noise)
            else:  # conv and fc weights, He-scaled by fan-in; the calibration's last conv kept small
                fan_in = tensor[0, 0, 0].numel() if tensor.dim() == 6 else tensor[0].numel()
                scale = 0.1 if ".b_rf.b." in name else 1.0
                tensor.copy_(scale * noise * (2.0 / fan_in) ** 0.5)
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.momentum = 1.0
        model.train()
        model(x)
        model.eval()


def interleaved_latency(models: dict[str, nn.Module], x: torch.Tensor, rounds: int) -> dict[str, float]:
    times = {name: [] for name in models}
    with torch.inference_mode():
        for model in models.values():
            model(x)  # warm-up
        for _ in range(rounds):
            for name, model in models.items():
                start = time.perf_counter()
                model(x)
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) * 1e3 for name, values in times.items()}


def pair(checkout: Path, frames: int = 8, size: int = 256, depth: int = 50, classes: int = 400) -> Pair:
    """The official TAda2D (its own config, every tensor non-trivial) and ``tada2d_r50`` loaded through the converter."""
    official = official_model(Path(checkout), depth, frames, size, classes)
    x = torch.randn(1, 3, frames, size, size, generator=torch.Generator().manual_seed(1))
    randomise(official, torch.randn(2, 3, frames, size, size, generator=torch.Generator().manual_seed(2)))
    ours = vbench.create_model("tada2d_r50", num_classes=classes, num_frames=frames, depth=depth).eval()
    converted = apply_checkpoint_filter(official.state_dict(), ours)
    report = load_state_dict(ours, converted, strict=True)
    with torch.inference_mode():
        reference, _ = official(x)
        logits = ours(x)
    return Pair("tada2d_r50", lambda: official(x)[0], lambda: ours(x), shape_text(x),
                (reference - logits).abs().max().item(),
                models={"official": official, "vbench": ours, "report": report, "x": x,
                        "logit_scale": reference.abs().max().item()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--depth", type=int, default=50)
    parser.add_argument("--classes", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()

    built = pair(args.checkout, args.frames, args.size, args.depth, args.classes)
    official, ours, x = built.models["official"], built.models["vbench"], built.models["x"]
    print(f"converter: {built.models['report'].summary()} (official tensors: {len(official.state_dict())})")
    print(f"max |logit difference|: {built.max_logit_diff:.2e} "
          f"(logit scale {built.models['logit_scale']:.2f})")

    ms = interleaved_latency({"official": lambda v: official(v)[0], "vbench": ours}, x, args.rounds)
    print(f"latency, {args.frames}x{args.size}x{args.size}, batch 1, {torch.get_num_threads()} threads, "
          f"median of {args.rounds} interleaved runs: official {ms['official']:.1f} ms, vbench {ms['vbench']:.1f} ms")

    from fvcore.nn import FlopCountAnalysis

    from vbench.profiling.flops import count_flops

    analysis = FlopCountAnalysis(official, x)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    by_op = analysis.by_operator()
    conv_fc = sum(v for k, v in by_op.items() if k in ("conv", "linear", "addmm", "matmul"))
    print(f"fvcore on the official model: conv+fc {conv_fc / 1e9:.3f} G, all supported ops {analysis.total() / 1e9:.3f} G "
          f"(by op: { {k: round(v / 1e9, 4) for k, v in by_op.items()} }); "
          f"not counted by fvcore: {dict(analysis.unsupported_ops())}")
    flops = count_flops(ours, x)
    print(f"vbench count of tada2d: conv+fc {flops.gflops_of(('conv', 'linear')):.3f} G, "
          f"MACs with BN {flops.gflops:.3f} G, without BN {flops.gflops_without_bn:.3f} G, "
          f"elementwise {flops.elementwise_ops / 1e9:.3f} G, uncounted {flops.uncounted}")


if __name__ == "__main__":
    main()
