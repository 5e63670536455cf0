"""vbench's TSN/TSM beside the official TSM code base: same weights, same input.

    python benchmarks/compare_official_tsm.py /path/to/temporal-shift-module [--frames 8] [--size 224]

The official repository (mit-han-lab/temporal-shift-module) is imported from the path you
give; nothing of it is part of vbench. Its ``TSN`` class is built with random weights,
its state dict is loaded into vbench's model through vbench's checkpoint converter, and
both run on the same clip: the script prints the largest logit difference and the CPU
latency of each (runs interleaved, median of each).
"""

from __future__ import annotations

import argparse

import torch
import torchvision

import vbench
from vbench.models.checkpoint import apply_checkpoint_filter, load_state_dict

from _compare import interleaved_medians
from _official import Pair, official_imports, quiet, shape_text


def official_model(repo: str, num_frames: int, shift: bool):
    # the official code calls resnet50(pretrained) positionally; today's torchvision takes weights=
    original = torchvision.models.resnet50
    torchvision.models.resnet50 = lambda *args, **kwargs: original(weights=None)
    try:
        with official_imports(repo):
            from ops.models import TSN

            model = TSN(400, num_frames, "RGB", base_model="resnet50", dropout=0.5, is_shift=shift, shift_div=8,
                        shift_place="blockres", pretrain="none", print_spec=False)
    finally:
        torchvision.models.resnet50 = original
    model.eval()  # its train() override returns None, so no chaining
    return model


def pair(repo: str, shift: bool = True, frames: int = 8, size: int = 224) -> Pair:
    """TSM (``shift``) or TSN: the official model with random weights, vbench's loaded from its state dict."""
    name = "tsm_r50" if shift else "tsn_r50"
    torch.manual_seed(0)
    x = torch.randn(1, 3, frames, size, size)
    # the official input layout: (N, T*C, H, W), frames interleaved as channel groups
    official_x = x.transpose(1, 2).reshape(1, frames * 3, size, size)
    with quiet():
        theirs = official_model(repo, frames, shift)
    for p in theirs.parameters():  # non-trivial weights everywhere, the fc included
        torch.nn.init.normal_(p, std=0.02)
    ours = vbench.create_model(name, num_frames=frames).eval()
    state = {k.removeprefix("module."): v for k, v in theirs.state_dict().items()}
    report = load_state_dict(ours, apply_checkpoint_filter(state, ours))
    with torch.inference_mode():
        diff = (ours(x) - theirs(official_x)).abs().max().item()
    return Pair(name, lambda: theirs(official_x), lambda: ours(x), shape_text(x), diff,
                models={"official": theirs, "vbench": ours, "report": report})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", help="checkout of mit-han-lab/temporal-shift-module")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    for shift in (False, True):
        built = pair(args.repo, shift, args.frames, args.size)
        medians = interleaved_medians({"vbench": built.vbench, "official": built.official}, rounds=args.rounds)
        print(f"{built.name}: {built.models['report'].loaded} tensors loaded; "
              f"max |logit difference| {built.max_logit_diff:.2e}; "
              f"CPU latency ({torch.get_num_threads()} threads, {args.frames}x{args.size}x{args.size}): "
              f"vbench {medians['vbench'] * 1e3:.1f} ms, official {medians['official'] * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
