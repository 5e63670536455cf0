"""Equivalent formulations of TSI's CTI, checked against each other and timed on the CPU.

    python -m benchmarks.tsi_cti_variants [--frames 8] [--size 224] [--repeats 20] [--threads 1]   # from the repo root

TSI has no official code, so the reference is the literal reading of the module, written
in the layout of TDN's temporal conv (MCG-NJU/TDN ``ops/base_module.py``, ``ShiftModule``:
frames moved last, ``conv1d`` over (N*H*W, C, T)): K separate channel-wise temporal
convolutions run one by one, selective-kernel attention from the global average of their
sum, the attention-weighted sum of the branch outputs. The other forms:

- grouped: all branches as one grouped ``conv1d`` (kernels zero-padded to the largest
  size, K outputs per channel), then the same mix;
- fused conv: the attention folded into one per-sample kernel (exact, because the
  attention does not vary over time or space), one depthwise ``conv2d`` along T;
- vbench: the same fused kernel applied as a T x T band matrix by a batched matmul
  (``CrossPerceptionTemporalIntegration.forward``).

All use the same module's weights. Printed: the max abs difference to the literal form
per stage shape and for the whole tsi_r50 (logits), and the median (and minimum)
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
from vbench.models.modules.tsi import CrossPerceptionTemporalIntegration


def _frames_last(module: CrossPerceptionTemporalIntegration, x: torch.Tensor) -> torch.Tensor:
    """(N*T, C, H, W) -> (N*H*W, C, T), TDN's layout for its temporal conv."""
    nt, c, h, w = x.shape
    return x.view(nt // module.num_frames, module.num_frames, c, h, w).permute(0, 3, 4, 2, 1).reshape(-1, c, module.num_frames)


def _mix(module: CrossPerceptionTemporalIntegration, branches: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Selective-kernel mix of branch outputs (N*H*W, K, C, T) back to (N*T, C, H, W)."""
    nt, c, h, w = shape
    n, t, k = nt // module.num_frames, module.num_frames, len(module.kernel_sizes)
    branches = branches.view(n, h * w, k, c, t)
    z = branches.sum(2).mean((1, 3))
    logits = module.select(F.relu(module.squeeze(z)))
    attention = logits.view(n, k, c).softmax(dim=1)
    out = torch.einsum("npkct,nkc->ntcp", branches, attention)
    return out.reshape(shape)


def cti_literal(module: CrossPerceptionTemporalIntegration, x: torch.Tensor) -> torch.Tensor:
    """Each branch its own depthwise temporal conv1d, one after the other."""
    series = _frames_last(module, x)
    outputs, start = [], 0
    for size in module.kernel_sizes:
        weight = module.weight[:, start:start + size].unsqueeze(1)
        outputs.append(F.conv1d(series, weight, padding=size // 2, groups=module.channels))
        start += size
    return _mix(module, torch.stack(outputs, 1), x.shape)


def cti_grouped(module: CrossPerceptionTemporalIntegration, x: torch.Tensor) -> torch.Tensor:
    """All branches as one grouped conv1d (K outputs per channel, kernels padded), then mixed."""
    series = _frames_last(module, x)
    c, k = module.channels, len(module.kernel_sizes)
    kernels = module.branch_kernels().reshape(c * k, 1, module.span)
    out = F.conv1d(series, kernels, padding=module.span // 2, groups=c)  # (N*H*W, C*K, T)
    return _mix(module, out.view(-1, c, k, module.num_frames).transpose(1, 2), x.shape)


def cti_fused_conv(module: CrossPerceptionTemporalIntegration, x: torch.Tensor) -> torch.Tensor:
    """The fused per-sample kernel as one depthwise conv2d along T on (1, N*C, T, H*W)."""
    nt, c, h, w = x.shape
    n, t = nt // module.num_frames, module.num_frames
    clip = x.view(n, t, c, h * w)
    kernels = module.branch_kernels()
    fused = torch.einsum("nck,ckj->ncj", module.attention(clip.mean(-1).transpose(1, 2), kernels), kernels)
    series = clip.permute(0, 2, 1, 3).reshape(1, n * c, t, h * w)
    out = F.conv2d(series, fused.reshape(n * c, 1, module.span, 1), padding=(module.span // 2, 0), groups=n * c)
    return out.view(n, c, t, h * w).permute(0, 2, 1, 3).reshape(nt, c, h, w)


def cti_vbench(module: CrossPerceptionTemporalIntegration, x: torch.Tensor) -> torch.Tensor:
    return module(x)


VARIANTS: dict[str, Callable] = {"literal": cti_literal, "grouped": cti_grouped, "fused conv": cti_fused_conv,
                                 "vbench": cti_vbench}


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
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
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
        for name in VARIANTS:
            print(f"C={channels:4d} {side:3d}x{side:<3d} {name:11s} {times[name]}  max abs diff to literal {diffs[name]:.1e}")

    model = vbench.create_model("tsi_r50", num_frames=t)
    ctis = [m for m in model.modules() if isinstance(m, CrossPerceptionTemporalIntegration)]
    for m in ctis:
        _randomise(m)
    _calibrate_batch_norm(model, torch.randn(2, 3, t, s, s))
    x = torch.randn(1, 3, t, s, s)

    def run(variant: Callable) -> torch.Tensor:
        for m in ctis:
            m.forward = (lambda inp, m=m: variant(m, inp)) if variant is not cti_vbench else type(m).forward.__get__(m)
        return model(x)

    logits = {name: run(fn) for name, fn in VARIANTS.items()}
    scale = logits["literal"].abs().max().item()
    for name in list(VARIANTS)[1:]:
        print(f"tsi_r50 logits, {name} vs literal: max abs diff {(logits[name] - logits['literal']).abs().max().item():.2e}"
              f" (logit scale {scale:.2f})")
    times = _format(_times({name: (lambda fn=fn: run(fn)) for name, fn in VARIANTS.items()}, max(3, args.repeats // 4)))
    for name in VARIANTS:
        print(f"tsi_r50 forward with {name:11s} CTI: {times[name]}")


if __name__ == "__main__":
    main()
