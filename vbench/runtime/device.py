"""Choosing the device, and naming it in records."""

from __future__ import annotations

import functools
import os
import platform

import torch

from vbench.errors import DeviceError

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_device(requested: str = "auto") -> tuple[torch.device, str | None]:
    """The device to run on, and a note when it is not what was asked for.

    ``auto`` takes the GPU when there is one and falls back to the CPU with a note;
    ``cuda`` without a GPU is a user error (one line, no traceback).
    """
    requested = requested.lower()
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda"), None
        return torch.device("cpu"), "no CUDA GPU found: running on the CPU"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError("CUDA was requested but no GPU is available here; use --device cpu or --device auto")
        device = torch.device(requested)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"{requested} does not exist: this machine has {torch.cuda.device_count()} GPU(s)")
        return device, None
    if requested == "cpu":
        return torch.device("cpu"), None
    raise DeviceError(f"unknown device '{requested}': use auto, cpu or cuda")


def resolve_precision(name: str) -> torch.dtype:
    if name not in PRECISIONS:
        raise DeviceError(f"unknown precision '{name}': use {', '.join(PRECISIONS)}")
    return PRECISIONS[name]


def device_name(device: torch.device) -> str:
    """A human name for the device: the GPU model, or the CPU model and thread count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{_cpu_model()} ({torch.get_num_threads()} threads)"


@functools.cache
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or f"CPU x{os.cpu_count()}"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
