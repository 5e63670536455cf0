"""Time equivalent formulations of EAN's and BQN's small ops on the CPU.

    python benchmarks/ean_bqn_ops.py

- the 3-tap per-channel temporal filter (EAN's learnable shift, BQN's MBPM): the
  official permute + depthwise conv1d + permute, a grouped conv3d on the (N, C, T, H, W)
  view, and vbench's three multiply-adds (vbench.models.modules.time_conv);
- EAN's 3x3x3 max-pool: one max_pool3d, or a 3x3 then a 3x1x1 pool (vbench).

Each pair is checked equal before it is timed; the timings alternate and the median
of three rounds is printed.
"""

from __future__ import annotations

import statistics

import torch
import torch.utils.benchmark as benchmark
from torch.nn import functional as F

from vbench.models.modules.time_conv import temporal_conv3


def conv1d_after_permute(x: torch.Tensor, weight: torch.Tensor, t: int) -> torch.Tensor:
    nt, c, h, w = x.shape
    y = x.view(nt // t, t, c, h, w).permute(0, 3, 4, 2, 1).contiguous().view(-1, c, t)
    y = F.conv1d(y, weight.unsqueeze(1), padding=1, groups=c)
    return y.view(nt // t, h, w, c, t).permute(0, 4, 3, 1, 2).contiguous().view(nt, c, h, w)


def grouped_conv3d(x: torch.Tensor, weight: torch.Tensor, t: int) -> torch.Tensor:
    nt, c, h, w = x.shape
    y = x.view(nt // t, t, c, h, w).transpose(1, 2)
    y = F.conv3d(y, weight.view(c, 1, 3, 1, 1), padding=(1, 0, 0), groups=c)
    return y.transpose(1, 2).reshape(nt, c, h, w)


def max_pool_3d(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool3d(x, 3, 1, 1)


def max_pool_separable(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool3d(F.max_pool3d(x, (1, 3, 3), 1, (0, 1, 1)), (3, 1, 1), 1, (1, 0, 0))


def median_times(functions: dict, args: tuple, rounds: int = 3) -> dict[str, float]:
    times = {name: [] for name in functions}
    threads = torch.get_num_threads()
    for _ in range(rounds):
        for name, fn in functions.items():
            timer = benchmark.Timer("fn(*args)", globals={"fn": fn, "args": args}, num_threads=threads)
            times[name].append(timer.blocked_autorange(min_run_time=0.3).median)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    filters = {"conv1d after permute (official)": conv1d_after_permute, "grouped conv3d": grouped_conv3d,
               "multiply-adds (vbench)": temporal_conv3}
    for shape in [(8, 64, 56, 56), (8, 128, 28, 28), (8, 256, 14, 14), (8, 512, 7, 7)]:
        x, weight = torch.randn(shape), torch.randn(shape[1], 3)
        reference = conv1d_after_permute(x, weight, 8)
        for fn in filters.values():
            torch.testing.assert_close(fn(x, weight, 8), reference)
        for name, seconds in median_times(filters, (x, weight, 8)).items():
            print(f"temporal filter {str(shape):18s} {name:32s} {seconds * 1e3:8.2f} ms")
    pools = {"max_pool3d 3x3x3 (official)": max_pool_3d, "3x3 then 3x1x1 (vbench)": max_pool_separable}
    for shape in [(1, 16, 8, 56, 56), (1, 64, 8, 56, 56), (1, 128, 8, 28, 28), (1, 256, 8, 14, 14)]:
        x = torch.randn(shape)
        assert torch.equal(max_pool_3d(x), max_pool_separable(x))
        for name, seconds in median_times(pools, (x,)).items():
            print(f"max pool        {str(shape):18s} {name:32s} {seconds * 1e3:8.2f} ms")


if __name__ == "__main__":
    main()
