"""Why a model fails on the synthetic benchmark: BatchNorm's train/eval gap, its sample counts, TAda's calibration.

    python benchmarks/synthetic_diagnostics.py [--out results/synthetic] [-m NAME ...] [--batch-size 8]

For every trained run of the benchmark (``OUT/train.json`` and ``OUT/train/RUN/model.pth``)
it prints, on the training clips (the first epoch's sampling and augmentation):

- loss and accuracy with BatchNorm in train mode (batch statistics, as while training) and
  in eval mode (running statistics, as when tested), dropout off in both. Same weights,
  same clips: a gap between the two is BatchNorm's doing, not the model's fit;
- the BatchNorm layer that normalises the fewest values per channel in a batch of the
  benchmark's size (N x T x H x W of its input): a handful of values makes batch
  statistics noise;
- for models with TAdaConv, the range of the calibration factors ``alpha`` in each mode
  (a running-statistics mismatch in the calibration's BN compounds layer after layer).

A model that cannot fit its training clips (both modes near chance) is under-trained; one
that fits them in eval mode only is held back by its BatchNorm statistics.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F

import vbench
from vbench.data import build_dataset, collate, resolve_views
from vbench.models.modules.tada import CalibrationBranch


def training_clips(frames: int, size: int, videos_per_class: int, seed: int):
    views = resolve_views(None, frames=frames, short_side=size, crop_size=size)
    dataset = build_dataset("synthetic", None, None, "train", views=views, train=True, seed=seed,
                            videos_per_class=videos_per_class, size=size)
    dataset.set_epoch(0)
    return dataset


def diagnose(checkpoint: Path, size: int, videos_per_class: int, seed: int, batch_size: int) -> dict:
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    frames = state["frames"]
    model = vbench.create_model(state["model"], num_classes=state["num_classes"], num_frames=frames)
    model.load_state_dict(state["state_dict"])
    dataset = training_clips(frames, size, videos_per_class, seed)
    values_per_channel: dict[str, int] = {}
    alphas: dict[str, list[torch.Tensor]] = {}
    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            hooks.append(module.register_forward_hook(
                lambda m, i, o, name=name: values_per_channel.__setitem__(name, o[:, 0].numel())))
        if isinstance(module, CalibrationBranch):
            hooks.append(module.register_forward_hook(
                lambda m, i, o, name=name: alphas.setdefault(name, []).append(o.detach())))
    result = {"model": state["model"], "frames": frames, "size": size}
    for mode in ("train", "eval"):
        model.train(mode == "train")
        for module in model.modules():  # dropout off in both: the gap measured is BatchNorm's alone
            if isinstance(module, torch.nn.modules.dropout._DropoutNd):
                module.eval()
        alphas.clear()
        loss = correct = count = 0.0
        with torch.no_grad():
            for start in range(0, len(dataset) - batch_size + 1, batch_size):  # labels cycle: classes mixed
                batch = collate([dataset[i] for i in range(start, start + batch_size)])
                logits = model(batch["video"][:, 0])
                loss += float(F.cross_entropy(logits, batch["label"], reduction="sum"))
                correct += float((logits.argmax(1) == batch["label"]).sum())
                count += len(batch["label"])
        result[f"{mode}_loss"] = round(loss / count, 3)
        result[f"{mode}_top1"] = round(100 * correct / count, 1)
        if alphas:
            values = torch.cat([a.flatten() for group in alphas.values() for a in group])
            result[f"{mode}_alpha_range"] = (round(float(values.min()), 2), round(float(values.max()), 2))
    for hook in hooks:
        hook.remove()
    name, fewest = min(values_per_channel.items(), key=lambda kv: kv[1])
    result["fewest_bn_values"] = f"{name}: {fewest}"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/synthetic"))
    parser.add_argument("-m", "--model", action="append", help="models (default: every run in OUT)")
    parser.add_argument("--batch-size", type=int, default=8, help="clips a batch (the benchmark trains with 8)")
    parser.add_argument("--videos-per-class", type=int, default=128)
    args = parser.parse_args()
    records = json.loads((args.out / "train.json").read_text())
    seen = set()
    for record in records:
        key = (record["model"], record["seed"])
        if record["dreal"] or key in seen or (args.model and record["model"] not in args.model):
            continue
        seen.add(key)
        checkpoint = args.out / "train" / record["run_id"] / "model.pth"
        if not checkpoint.exists():
            print(f"{record['model']}: no checkpoint at {checkpoint}")
            continue
        size = int(record["size"].split("x")[0])
        print(json.dumps(diagnose(checkpoint, size, args.videos_per_class, record["seed"], args.batch_size)))


if __name__ == "__main__":
    main()
