"""MSTAT's ViT-B/16 backbone against torchvision's ``vit_b_16``: same weights, same input.

    PYTHONPATH=. python benchmarks/mstat_backbone.py [--batch 8] [--rounds 7]

MSTAT has no public code, so its only part with a reference implementation is the
ImageNet ViT-B/16 it starts from. torchvision's weights go through vbench's converter
(``convert_vit_state_dict``) into ``vbench.models.vit.VisionTransformer``; the script
prints the max abs logit difference (float32) and both CPU latencies, the two models'
runs interleaved (the machine may be shared), medians over rounds.
"""

import argparse
import statistics

import torch
import torch.utils.benchmark as benchmark
import torchvision

from vbench.models.vit import VisionTransformer, convert_vit_state_dict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8, help="images per forward pass (8 = one 8-frame clip)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    torch.manual_seed(0)
    reference = torchvision.models.vit_b_16(weights=None).eval()
    for p in reference.parameters():
        torch.nn.init.normal_(p, std=0.02)
    ours = VisionTransformer().eval()
    ours.load_state_dict(convert_vit_state_dict(reference.state_dict(), keep_classifier=True))
    x = torch.randn(args.batch, 3, 224, 224)
    with torch.inference_mode():
        difference = (ours(x) - reference(x)).abs().max().item()
    print(f"max abs logit difference (float32): {difference:.3e}")
    threads = torch.get_num_threads()
    times = {"torchvision vit_b_16": [], "vbench ViT-B/16": []}
    with torch.inference_mode():
        for _ in range(args.rounds):
            for name, model in (("torchvision vit_b_16", reference), ("vbench ViT-B/16", ours)):
                timer = benchmark.Timer("model(x)", globals={"model": model, "x": x}, num_threads=threads)
                times[name].append(timer.timeit(1).median)
    for name, values in times.items():
        print(f"{name:22s} median {statistics.median(values) * 1e3:8.1f} ms  ({args.batch} images 224x224, "
              f"{threads} threads, {args.rounds} interleaved rounds)")


if __name__ == "__main__":
    main()
