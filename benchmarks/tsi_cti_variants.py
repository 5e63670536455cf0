"""Three equivalent formulations of TSI's CTI, checked against each other and timed on the CPU.

    python -m benchmarks.tsi_cti_variants [--frames 8] [--size 224] [--repeats 20]   # from the repository root

TSI has no official code, so the reference here is the literal reading of the module:
K separate channel-wise temporal convolutions (run one by one), selective-kernel
attention from the global average of their sum, and the attention-weighted sum of the
branch outputs. vbench's ``CrossPerceptionTemporalIntegration`` fuses the attention into
one per-sample kernel and runs a single depthwise temporal conv. A middle variant runs
all branches as one grouped conv (kernels zero-padded to the largest size), then mixes.

All three use the same module's weights. Printed: the max abs difference to the literal
form per stage shape and for the whole tsi_r50 (logits), and the median (and minimum)
latencies of interleaved runs (the machine may be shared: medians, not means). For the
whole model the BN statistics are first calibrated on two random clips: a randomly
initialised ResNet-50 with default running statistics amplifies float rounding
chaotically, which would hide whether the formulations agree.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch.nn import functional as F

import vbench
from vbench.models.temporal.tsi import CrossPerceptionTemporalIntegration


def _series(module: CrossPerceptionTemporalIntegration, x: torch.Tensor) -> torch.Tensor:
    """(N*T, C, H, W) -> (N, C, T, H*W)."""
    nt, c, h, w = x.shape
    return x.view(nt // module.num_frames, module.num_frames, c, h * w).permute(0, 2, 1, 3)


def _back(y: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    return y.permute(0, 2, 1, 3).reshape(shape)


def _mix(module: CrossPerceptionTemporalIntegration, branches: torch.Tensor) -> torch.Tensor:
    """Selective-kernel mix of branch outputs (N, K, C, T, P): attention from their sum."""
    z = branches.sum(1).mean((2, 3))
    logits = module.select(F.relu(module.squeeze(z)))
    attention = logits.view(-1, len(module.kernel_sizes), module.channels).softmax(dim=1)
    return torch.einsum("nkctp,nkc->nctp", branches, attention)


def cti_literal(module: CrossPerceptionTemporalIntegration, x: torch.Tensor) -> torch.Tensor:
    """Each branch its own depthwise temporal conv, one after the other."""
    series = _series(module, x).contiguous()
    outputs, start = [], 0
    for size in module.kernel_sizes:
        weight = module.weight[:, start:start + size].reshape(module.channels, 1, size, 1)
        outputs.append(F.conv2d(series, weight, padding=(size // 2, 0), groups=module.channels))
        start += size
    return _back(_mix(module, torch.stack(outputs, 1)), x.shape)


def cti_grouped(module: CrossPerceptionTemporalIntegration, x: torch.Tensor) -> torch.Tensor:
    """All branches as one grouped conv (K outputs per channel, kernels padded), then mixed."""
    series = _series(module, x).contiguous()
    n, c, t, p = series.shape
    k = len(module.kernel_sizes)
    kernels = module.branch_kernels().reshape(c * k, 1, module.span, 1)
    out = F.conv2d(series, kernels, padding=(module.span // 2, 0), groups=c)  # (N, C*K, T, P)
    return _back(_mix(module, out.view(n, c, k, t, p).transpose(1, 2)), x.shape)


def cti_fused(module: CrossPerceptionTemporalIntegration, x: torch.Tensor) -> torch.Tensor:
    return module(x)


VARIANTS: dict[str, Callable] = {"literal": cti_literal, "grouped": cti_grouped, "fused (vbench)": cti_fused}


def _times(calls: dict[str, Callable[[], object]], repeats: int) -> dict[str, tuple[float, float]]:
    """(median, minimum) seconds of each call, the calls interleaved."""
    times = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(values), min(values)) for name, values in times.items()}


def _format(times: dict[str, tuple[float, float]]) -> dict[str, str]:
    return {name: f"{median * 1e3:8.2f} ms (min {low * 1e3:.2f})" for name, (median, low) in times.items()}


def _randomise(module: torch.nn.Module) -> None:
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, 0.5)


def _calibrate_batch_norm(model: torch.nn.Module, clips: torch.Tensor) -> None:
    """Running statistics from ``clips`` (cumulative average), then eval mode."""
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    model(clips)
    model.eval()


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    t, s = args.frames, args.size
    print(f"CPU, {threads} threads, batch 1, {t} frames, {s}x{s}; medians of {args.repeats} interleaved runs")
    for channels, side in [(64, s // 4), (128, s // 8), (256, s // 16), (512, s // 32)]:
        module = CrossPerceptionTemporalIntegration(channels, t).eval()
        _randomise(module)
        x = torch.randn(t, channels, side, side)
        reference = cti_literal(module, x)
        diffs = {name: (fn(module, x) - reference).abs().max().item() for name, fn in VARIANTS.items()}
        times = _format(_times({name: (lambda fn=fn: fn(module, x)) for name, fn in VARIANTS.items()}, args.repeats))
        cells = "  ".join(f"{name} {times[name]} diff {diffs[name]:.1e}" for name in VARIANTS)
        print(f"C={channels:4d} {side:3d}x{side:<3d}  {cells}")

    model = vbench.create_model("tsi_r50", num_frames=t)
    ctis = [m for m in model.modules() if isinstance(m, CrossPerceptionTemporalIntegration)]
    for m in ctis:
        _randomise(m)
    _calibrate_batch_norm(model, torch.randn(2, 3, t, s, s))
    x = torch.randn(1, 3, t, s, s)

    def run(variant: Callable) -> torch.Tensor:
        for m in ctis:
            m.forward = (lambda inp, m=m: variant(m, inp)) if variant is not cti_fused else type(m).forward.__get__(m)
        return model(x)

    logits = {name: run(fn) for name, fn in VARIANTS.items()}
    scale = logits["literal"].abs().max().item()
    for name in VARIANTS:
        print(f"tsi_r50 logits, {name} vs literal: max abs diff {(logits[name] - logits['literal']).abs().max().item():.2e}"
              f" (logit scale {scale:.2f})")
    times = _format(_times({name: (lambda fn=fn: run(fn)) for name, fn in VARIANTS.items()}, max(3, args.repeats // 4)))
    print("tsi_r50 forward: " + "  ".join(f"{name} {times[name]}" for name in VARIANTS))


if __name__ == "__main__":
    main()
