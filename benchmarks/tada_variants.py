"""Time equivalent formulations of TAdaConv's per-frame conv and of TAda2D's temporal pool (CPU).

    PYTHONPATH=. python benchmarks/tada_variants.py

Per-frame kernels ``alpha_t * W`` (input-channel calibration):
- grouped (official): per-frame weights, one grouped conv with N*T groups over the folded batch;
- scaled input (vbench): the shared conv on ``alpha_t * x_t``.
Temporal average pool (kernel 3 over T, zero padding counted):
- avg_pool3d on (N, C, T, H, W) after a transpose and back (the official layout is 5D already,
  vbench's is folded, so the transposes are what vbench would pay);
- avg_pool2d with a (3, 1) window on the folded batch viewed as (N, 1, T, C*H*W);
- shifted in-place adds on the folded batch (vbench).
The machine is shared: the variants are interleaved and each figure is a median.
"""

import statistics

import torch
import torch.nn.functional as F
import torch.utils.benchmark as benchmark

from vbench.models.modules.tada import temporal_avg_pool


def conv_grouped(x, alpha, weight, stride):
    nt, c, h, w = x.shape
    per_frame = (alpha[:, None, :, None, None] * weight[None]).reshape(-1, c, *weight.shape[-2:])
    out = F.conv2d(x.reshape(1, nt * c, h, w), per_frame, stride=stride, padding=1, groups=nt)
    return out.view(nt, weight.shape[0], *out.shape[-2:])


def conv_scaled_input(x, alpha, weight, stride):
    return F.conv2d(x * alpha[:, :, None, None], weight, stride=stride, padding=1)


def pool_3d(x, t):
    nt, c, h, w = x.shape
    y = x.view(nt // t, t, c, h, w).transpose(1, 2)
    y = F.avg_pool3d(y, (3, 1, 1), 1, (1, 0, 0))
    return y.transpose(1, 2).reshape(nt, c, h, w)


def pool_2d_folded(x, t):
    nt, c, h, w = x.shape
    y = F.avg_pool2d(x.reshape(nt // t, 1, t, c * h * w), (3, 1), stride=1, padding=(1, 0))
    return y.view(nt, c, h, w)


def _medians(variants: dict, args: tuple, rounds: int = 5) -> dict:
    """Median ms of each variant, the variants interleaved round by round."""
    times = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            timer = benchmark.Timer("fn(*args)", globals={"fn": fn, "args": args},
                                    num_threads=torch.get_num_threads())
            times[name].append(timer.timeit(3).median * 1e3)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    torch.manual_seed(0)
    t = 8
    print(f"threads: {torch.get_num_threads()}; medians of interleaved runs, ms")
    with torch.inference_mode():
        # (channels, input size, stride) of TAda2D-R50's 3x3 convs at a 256 crop, 8 frames
        for c, size, stride in [(64, 128, 2), (64, 64, 1), (128, 32, 1), (256, 16, 1), (512, 8, 1)]:
            x = torch.randn(t, c, size, size)
            alpha = 1 + 0.1 * torch.randn(t, c)
            weight = torch.randn(c, c, 3, 3) * 0.05
            a, b = conv_grouped(x, alpha, weight, stride), conv_scaled_input(x, alpha, weight, stride)
            assert torch.allclose(a, b, atol=1e-4), (a - b).abs().max()
            ms = _medians({"grouped (official)": conv_grouped, "scaled input (vbench)": conv_scaled_input},
                          (x, alpha, weight, stride))
            print(f"conv C={c:3d} {size:3d}px s{stride}: " + ", ".join(f"{k} {v:7.2f}" for k, v in ms.items()))
        for c, size in [(64, 64), (128, 32), (256, 16), (512, 8)]:
            x = torch.randn(t, c, size, size)
            ref = pool_3d(x, t)
            assert torch.allclose(ref, temporal_avg_pool(x, t), atol=1e-6)
            assert torch.allclose(ref, pool_2d_folded(x, t), atol=1e-6)
            ms = _medians({"avg_pool3d + transposes": pool_3d, "avg_pool2d folded": pool_2d_folded,
                           "shifted adds (vbench)": temporal_avg_pool}, (x, t))
            print(f"pool C={c:3d} {size:3d}px: " + ", ".join(f"{k} {v:6.2f}" for k, v in ms.items()))


if __name__ == "__main__":
    main()
