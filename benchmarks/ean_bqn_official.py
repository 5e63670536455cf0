"""EAN and BQN against their official implementations: logits and CPU latency.

    python benchmarks/ean_bqn_official.py ean PATH/TO/EAN-Pytorch [--segments 8] [--repeats 5]
    python benchmarks/ean_bqn_official.py bqn PATH/TO/busy-quiet-net [--segments 8] [--repeats 3]

The official model is built from the checkout (EAN needs ``einops`` importable),
every parameter randomised (so that the zero- or 0.01-initialised branches count) and
its BN statistics measured on a random batch (so that activations stay near unit
scale), its state dict converted by vbench's ``checkpoint_filter`` and
loaded strictly into vbench's model. Both get the same input; the script prints the
largest logit difference (float32, and float64 to separate rounding from a real
difference) and the median latency of each, timed alternately.

busy-quiet-net imports a file it does not ship (``ops/depthwise_conv.py``) for
helpers its ResNet never calls; the script puts an empty stand-in module in its place.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import types

import torch
from torch import nn

import vbench
from vbench.models.checkpoint import apply_checkpoint_filter, load_state_dict

from _official import Pair, official_imports, shape_text


def randomise(model: nn.Module, calibration: torch.Tensor, seed: int = 0) -> None:
    """Random parameters; BN statistics measured on ``calibration`` so activations stay O(1)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.named_parameters():
            if name.endswith("bias"):
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.1)
            elif tensor.dim() == 1:  # norm weights
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            else:
                fan_in = tensor[0].numel()
                tensor.copy_(torch.randn(tensor.shape, generator=generator) / fan_in ** 0.5)
        norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # one batch: the running statistics become the batch's
        model.train()
        model(calibration)
        model.eval()
        for norm in norms:  # a few clips give some channels a tiny variance: keep the scale sane
            norm.running_var.clamp_(min=norm.running_var.median().item())


class OfficialEAN(nn.Module):
    """The official ``TSN.TemporalModel`` at inference: base model, ``new_fc``."""

    def __init__(self, checkout: str, segments: int, num_classes: int):
        super().__init__()
        with official_imports(checkout):
            module = __import__("EAN_16f" if segments == 16 else "EAN_8f")
            self.base_model = module.resnet50(pretrained=False, num_segments=segments)
        self.base_model.fc = nn.Dropout(0.5)
        self.new_fc = nn.Linear(2048, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, h, w = x.shape
        out, _ = self.base_model(x.transpose(1, 2).reshape(n * t, c, h, w))
        return self.new_fc(out.view(n, -1))


class OfficialBQN(nn.Module):
    """The official ``src/model.py`` TSN at inference around ``src/bqn_resnet_reverse.py``."""

    def __init__(self, checkout: str, segments: int, num_classes: int):
        super().__init__()
        with official_imports(checkout):
            import ops

            sys.modules["ops.depthwise_conv"] = ops.depthwise_conv = types.ModuleType("ops.depthwise_conv")
            from src import bqn_resnet_reverse

            bqn_resnet_reverse.DuoPath.count = 0  # the block counter that sets the laterals' parity
            self.segments = segments
            self.base_model = bqn_resnet_reverse.resnet50(
                pretrained=False, num_classes=num_classes, dropout=0.5, data_length=3, num_segments=segments)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, h, w = x.shape
        frames = x.transpose(1, 2).reshape(n * self.segments, 3 * c, h, w)  # (frame, colour) channels
        return self.base_model(frames).view(n, self.segments, -1).mean(1)


def pair(method: str, checkout: str, segments: int = 8, size: int | None = None) -> Pair:
    """EAN or BQN: the official model (random weights, calibrated BN) and vbench's loaded strictly from it."""
    size = size or (224 if method == "ean" else 256)
    torch.manual_seed(0)
    classes = 174
    if method == "ean":
        official, name, frames = OfficialEAN(checkout, segments, classes), "ean_r50", 5 * segments
    else:
        official, name, frames = OfficialBQN(checkout, segments, classes), "bqn_r50", 3 * segments
    for module in official.modules():  # the official heads drop in place; keep calibration clean
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    randomise(official, torch.randn(2, 3, frames, size, size))
    ours = vbench.create_model(name, num_classes=classes, num_frames=frames).eval()
    report = load_state_dict(ours, apply_checkpoint_filter(official.state_dict(), ours), strict=True)
    x = torch.randn(1, 3, frames, size, size)
    with torch.no_grad():
        reference, mine = official(x), ours(x)
    return Pair(name, lambda: official(x), lambda: ours(x), shape_text(x), (reference - mine).abs().max().item(),
                models={"official": official, "vbench": ours, "report": report, "x": x,
                        "logit_scale": reference.abs().max().item()})


def compare(method: str, checkout: str, segments: int, repeats: int, size: int) -> None:
    built = pair(method, checkout, segments, size)
    official, ours, x = built.models["official"], built.models["vbench"], built.models["x"]
    with torch.no_grad():
        exact = (official.double()(x.double()) - ours.double()(x.double())).abs().max().item()
        official.float(), ours.float()
        times: dict[str, list[float]] = {"official": [], "vbench": []}
        for _ in range(repeats):
            for label, model in (("official", official), ("vbench", ours)):
                start = time.perf_counter()
                model(x)
                times[label].append(time.perf_counter() - start)
    print(f"{built.name}: {segments} segments, input {tuple(x.shape)}, {torch.get_num_threads()} threads; "
          f"converter: {built.models['report'].summary()}")
    print(f"logits: max |official - vbench| = {built.max_logit_diff:.3g} "
          f"(logit scale {built.models['logit_scale']:.3g}); in float64: {exact:.3g}")
    for label, values in times.items():
        print(f"{label:9s} median {statistics.median(values) * 1e3:8.0f} ms over {repeats} runs "
              f"(min {min(values) * 1e3:.0f}, max {max(values) * 1e3:.0f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("method", choices=("ean", "bqn"))
    parser.add_argument("checkout", help="path of the official repository's checkout")
    parser.add_argument("--segments", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=None, help="input size (EAN 224, BQN 256)")
    args = parser.parse_args()
    size = args.size or (224 if args.method == "ean" else 256)
    compare(args.method, args.checkout, args.segments, args.repeats, size)


if __name__ == "__main__":
    main()
