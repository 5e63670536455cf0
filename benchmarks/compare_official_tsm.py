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
import sys

import torch
import torchvision

import vbench
from vbench.models.checkpoint import apply_checkpoint_filter, load_state_dict

from _compare import interleaved_medians


def official_model(repo: str, num_frames: int, shift: bool):
    sys.path.insert(0, repo)
    # the official code calls resnet50(pretrained) positionally; today's torchvision takes weights=
    original = torchvision.models.resnet50
    torchvision.models.resnet50 = lambda *args, **kwargs: original(weights=None)
    from ops.models import TSN

    model = TSN(400, num_frames, "RGB", base_model="resnet50", dropout=0.5, is_shift=shift, shift_div=8,
                shift_place="blockres", pretrain="none", print_spec=False)
    torchvision.models.resnet50 = original
    model.eval()  # its train() override returns None, so no chaining
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", help="checkout of mit-han-lab/temporal-shift-module")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(1, 3, args.frames, args.size, args.size)
    # the official input layout: (N, T*C, H, W), frames interleaved as channel groups
    official_x = x.transpose(1, 2).reshape(1, args.frames * 3, args.size, args.size)
    for name, shift in (("tsn_r50", False), ("tsm_r50", True)):
        theirs = official_model(args.repo, args.frames, shift)
        for p in theirs.parameters():  # non-trivial weights everywhere, the fc included
            torch.nn.init.normal_(p, std=0.02)
        ours = vbench.create_model(name, num_frames=args.frames).eval()
        state = {k.removeprefix("module."): v for k, v in theirs.state_dict().items()}
        report = load_state_dict(ours, apply_checkpoint_filter(state, ours))
        with torch.inference_mode():
            diff = (ours(x) - theirs(official_x)).abs().max().item()
        medians = interleaved_medians({"vbench": lambda: ours(x), "official": lambda: theirs(official_x)},
                                      rounds=args.rounds)
        print(f"{name}: {report.loaded} tensors loaded; max |logit difference| {diff:.2e}; "
              f"CPU latency ({torch.get_num_threads()} threads, {args.frames}x{args.size}x{args.size}): "
              f"vbench {medians['vbench'] * 1e3:.1f} ms, official {medians['official'] * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
