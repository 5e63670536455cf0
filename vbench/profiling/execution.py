"""How a measured forward pass runs: the model in eval and inference mode on the device,
with the precision, memory format and compilation a request asks for, and the words a
record keeps about it. Shared by the runner and the memory probe's fresh process.
"""

from __future__ import annotations

import torch

from vbench.models.registry import create_model, model_info
from vbench.runtime.device import resolve_precision, synchronize
from vbench.runtime.precision import autocast


def channels_last_weights(model: torch.nn.Module) -> torch.nn.Module:
    """4-D parameters in channels_last, 5-D in channels_last_3d (in place)."""
    for p in model.parameters():
        if p.dim() == 4:
            p.data = p.data.contiguous(memory_format=torch.channels_last)
        elif p.dim() == 5:
            p.data = p.data.contiguous(memory_format=torch.channels_last_3d)
    return model


def build_for_measurement(request: dict, device: torch.device, model: torch.nn.Module | None = None):
    """Model (eval, on device), a random input batch, and ``run()`` doing one forward pass."""
    if model is None:
        model = create_model(request["model"], num_classes=request["num_classes"], num_frames=request["frames"])
    model = model.eval().to(device)
    if request["channels_last"]:
        model = channels_last_weights(model)
    runnable = torch.compile(model) if request.get("compile") else model
    info = model_info(request["model"])
    shape = info.input_shape(request["batch_size"], request["frames"], tuple(request["size"]))
    inputs = torch.randn(shape, device=device)
    dtype = resolve_precision(request["precision"])

    def run():
        with torch.inference_mode(), autocast(device, dtype):
            out = runnable(inputs)
        synchronize(device)
        return out

    return model, inputs, run


def execution_of(request: dict, device: torch.device) -> list[str]:
    """What the timed forward pass does, in words a record keeps (so a reader knows how
    a figure was made, not only which flags were asked for)."""
    steps = ["model.eval()", "torch.inference_mode()"]
    if request["precision"] != "fp32":
        steps.append(f"torch.autocast({device.type}, dtype={str(resolve_precision(request['precision']))[6:]}) "
                     "around the forward pass; weights kept in fp32")
    if request["channels_last"]:
        steps.append("4D parameters in channels_last, 5D in channels_last_3d")
    if request.get("compile"):
        steps.append("torch.compile(model) with its default backend (inductor); compiled during warm-up")
    return steps


