"""Time equivalent formulations of the motion family's operators on the CPU.

    python benchmarks/motion_ops.py [--threads 1]

- channel-wise temporal conv (TEA's MTA, STM's CSTM): the official ``Conv1d(groups=C)`` on a
  permuted ``(N*H*W, C, T)`` copy against vbench's three multiply-adds on shifted views;
- TEA's ME: subtract, zero-pad and average full maps (official) against averaging the two
  maps and subtracting the small vectors (vbench);
- the zero-padded temporal difference of STM's CMM: ``F.pad`` of the difference (as the
  first author's code and TEA's code do) against writing it into a preallocated buffer;
- CMM's 2x2 max pool in strided blocks: ``F.max_pool2d`` on the NCHW tensor against pooling
  a channels-last copy and copying back.

Each pair is checked for equal values, then timed alternately (medians).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vbench.models.modules.channelwise import channelwise_temporal_conv, temporal_difference  # noqa: E402
from vbench.models.modules.stm import strided_max_pool  # noqa: E402

T = 8


def conv1d_temporal(x, weight, frames):
    nt, c, h, w = x.shape
    y = x.view(-1, frames, c, h, w).permute(0, 3, 4, 2, 1).contiguous().view(-1, c, frames)
    y = F.conv1d(y, weight, padding=1, groups=c)
    return y.view(-1, h, w, c, frames).permute(0, 4, 3, 1, 2).contiguous().view(nt, c, h, w)


def me_motion_official(squeezed, moved, frames):
    shape = (-1, frames) + squeezed.shape[1:]
    diff = moved.view(shape)[:, 1:] - squeezed.view(shape)[:, :-1]
    diff = F.pad(diff, (0, 0, 0, 0, 0, 0, 0, 1))
    return F.adaptive_avg_pool2d(diff.flatten(0, 1), 1)


def me_motion_vbench(squeezed, moved, frames):
    return temporal_difference(F.adaptive_avg_pool2d(moved, 1), F.adaptive_avg_pool2d(squeezed, 1), frames)


def difference_padded(later, earlier, frames):
    shape = (-1, frames) + later.shape[1:]
    diff = later.view(shape)[:, 1:] - earlier.view(shape)[:, :-1]
    return F.pad(diff, (0, 0, 0, 0, 0, 0, 0, 1)).flatten(0, 1)


def max_pool_nchw(x, stride):
    return F.max_pool2d(x, stride, stride, ceil_mode=True)


def median_ms(fn, *args, runs: int = 5) -> float:
    fn(*args)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def compare(label, first, second, args, rounds=5):
    with torch.inference_mode():
        assert torch.allclose(first[1](*args), second[1](*args), atol=1e-5), label
        times = {first[0]: [], second[0]: []}
        for _ in range(rounds):
            for name, fn in (first, second):
                times[name].append(median_ms(fn, *args))
    shown = "  ".join(f"{name} {statistics.median(v):7.2f} ms" for name, v in times.items())
    print(f"{label:46s} {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"CPU, {args.threads} thread(s), float32, T = {T}, one clip")
    for shape in [(T, 26, 56, 56), (T, 104, 28, 28), (T, 208, 7, 7), (T, 64, 56, 56), (T, 512, 7, 7)]:
        x, weight = torch.randn(shape), torch.randn(shape[1], 1, 3)
        compare(f"temporal conv {shape}", ("conv1d", conv1d_temporal), ("shifted", channelwise_temporal_conv),
                (x, weight, T))
    for shape in [(T, 6, 56, 56), (T, 52, 7, 7)]:
        squeezed, moved = torch.randn(shape), torch.randn(shape)
        compare(f"ME motion {shape}", ("official", me_motion_official), ("pool first", me_motion_vbench),
                (squeezed, moved, T))
        compare(f"CMM difference {shape}", ("pad", difference_padded), ("buffer", temporal_difference),
                (moved, squeezed, T))
    for shape in [(T, 128, 56, 56), (T, 256, 28, 28), (T, 512, 14, 14)]:
        compare(f"CMM max pool {shape}", ("NCHW", max_pool_nchw), ("channels-last", strided_max_pool),
                (torch.randn(shape), 2))


if __name__ == "__main__":
    main()
