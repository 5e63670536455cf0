"""Time two equivalent formulations of the temporal shift on the CPU.

    python benchmarks/shift_variants.py

The official TSM code fills a zero tensor and copies the channel groups into it;
vbench writes into an empty buffer and zeroes only the two boundary frames.
"""

import torch
import torch.utils.benchmark as benchmark

from vbench.models.modules.shift import temporal_shift


def shift_zero_filled(x: torch.Tensor, num_frames: int, fold_div: int = 8) -> torch.Tensor:
    nt, c, h, w = x.shape
    fold = c // fold_div
    x = x.view(nt // num_frames, num_frames, c, h, w)
    out = torch.zeros_like(x)
    out[:, :-1, :fold] = x[:, 1:, :fold]
    out[:, 1:, fold:2 * fold] = x[:, :-1, fold:2 * fold]
    out[:, :, 2 * fold:] = x[:, :, 2 * fold:]
    return out.view(nt, c, h, w)


def main() -> None:
    threads = torch.get_num_threads()
    for shape in [(8, 64, 56, 56), (8, 256, 56, 56), (8, 1024, 14, 14), (8, 2048, 7, 7)]:
        x = torch.randn(shape)
        assert torch.equal(temporal_shift(x, 8), shift_zero_filled(x, 8))
        for name, fn in (("zero-filled (official)", shift_zero_filled), ("vbench", temporal_shift)):
            m = benchmark.Timer("fn(x, 8)", globals={"fn": fn, "x": x}, num_threads=threads).blocked_autorange(
                min_run_time=0.5)
            print(f"{str(shape):20s} {name:24s} {m.median * 1e6:8.0f} us")


if __name__ == "__main__":
    main()
