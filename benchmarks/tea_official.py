"""vbench's tea_r50 beside the official TEA implementation: same weights, same input.

    python benchmarks/tea_official.py /path/to/tea-action-recognition [--frames 8] [--size 224]

The official network (``ops/tea50_8f.py`` or ``ops/tea50_16f.py`` of
Phoenix1327/tea-action-recognition, wrapped as its ``ops/models.py`` TSN does: adaptive
average pool, dropout, ``new_fc``, mean over frames) gets random weights and BN statistics
measured on random clips; its state dict (saved as the official ``main.py`` saves it), under the official key names, goes through vbench's checkpoint converter
into ``tea_r50``. The script prints the largest logit difference and the CPU latency of
both, timed alternately (the machine may be shared) and reported as medians.

The official model files do not parse as published (a comma is missing after the first
URL of ``model_urls``); the script adds it in memory and leaves the checkout untouched.
"""

from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import vbench  # noqa: E402
from vbench.models.checkpoint import apply_checkpoint_filter, load_state_dict, unwrap_state_dict  # noqa: E402

from _compare import interleaved_medians  # noqa: E402
from _official import Pair, shape_text  # noqa: E402

_MISSING_COMMA = "res2net50_26w_4s-06e79181.pth'\n"


def load_official_module(checkout: Path, frames: int) -> types.ModuleType:
    path = checkout / "ops" / f"tea50_{frames}f.py"
    source = path.read_text().replace(_MISSING_COMMA, _MISSING_COMMA.replace("'\n", "',\n"), 1)
    module = types.ModuleType(f"tea50_{frames}f")
    module.__file__ = str(path)
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


class OfficialTEA(nn.Module):
    """The official base model inside the forward pass of its ``ops/models.py`` TSN."""

    def __init__(self, module: types.ModuleType, frames: int, num_classes: int):
        super().__init__()
        self.frames = frames
        self.base_model = getattr(module, f"tea50_{frames}f")(pretrained=False)
        self.base_model.avgpool = nn.AdaptiveAvgPool2d(1)
        self.base_model.fc = nn.Dropout(0.5)
        self.new_fc = nn.Linear(2048, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (N, T*3, H, W) as the official loader gives
        out = self.new_fc(self.base_model(x.view((-1, 3) + x.shape[-2:])))
        return out.view(-1, self.frames, out.shape[-1]).mean(dim=1)


def randomise(model: nn.Module, example: torch.Tensor) -> None:
    """Random weights (the temporal convs' taps of any sign around the identity), then BN
    statistics measured on random clips, so that activations stay of order one and every
    tensor shows in the logits."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    m.bias.normal_(0, 0.1)
            elif isinstance(m, nn.Conv1d):
                m.weight.uniform_(-0.5, 0.5)
                m.weight[:, 0, 1] += 1
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
                m.reset_running_stats()
                m.momentum = None  # a plain average over the calibration passes
        model.train()
        for _ in range(2):
            model(torch.randn_like(example))
        model.eval()


def pair(checkout: Path, frames: int = 8, size: int = 224, classes: int = 174) -> Pair:
    """The official TEA (random weights, calibrated BN) and ``tea_r50`` loaded from its saved state dict."""
    torch.manual_seed(0)
    official = OfficialTEA(load_official_module(Path(checkout), frames), frames, classes)
    video = torch.randn(1, 3, frames, size, size)
    official_input = video.transpose(1, 2).reshape(1, frames * 3, size, size)
    randomise(official, official_input)
    ours = vbench.create_model("tea_r50", num_classes=classes, num_frames=frames).eval()
    saved = {"epoch": 1, "state_dict": {f"module.{k}": v for k, v in official.state_dict().items()}}  # main.py's form
    report = load_state_dict(ours, apply_checkpoint_filter(unwrap_state_dict(saved), ours))
    with torch.inference_mode():
        expected = official(official_input)
        difference = (ours(video) - expected).abs().max().item()
    return Pair("tea_r50", lambda: official(official_input), lambda: ours(video), shape_text(video), difference,
                models={"official": official, "vbench": ours, "report": report, "expected": expected,
                        "official_input": official_input})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path, help="a checkout of Phoenix1327/tea-action-recognition")
    parser.add_argument("--frames", type=int, default=8, choices=(8, 16))
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--classes", type=int, default=174)
    parser.add_argument("--rounds", type=int, default=5, help="alternating timing rounds")
    parser.add_argument("--runs", type=int, default=3, help="timed forward passes per model per round")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    built = pair(args.checkout, args.frames, args.size, args.classes)
    official, expected = built.models["official"], built.models["expected"]
    print(f"converter: {built.models['report'].summary()}")

    with torch.inference_mode():
        spread = (official(torch.randn_like(built.models["official_input"])) - expected).abs().max().item()
        print(f"max |logit difference| = {built.max_logit_diff:.3g} (float32, {args.frames}x{args.size}x{args.size}; "
              f"max |logit| {expected.abs().max().item():.3g}, change of logits with another input {spread:.3g})")
    medians = interleaved_medians({"official": built.official, "vbench": built.vbench},
                                  rounds=args.rounds * args.runs)
    print(f"CPU latency, batch 1, {args.threads} threads, median of {args.rounds * args.runs} alternating runs: "
          f"official {medians['official'] * 1e3:.1f} ms, vbench {medians['vbench'] * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
