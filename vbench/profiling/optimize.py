"""Deploy-mode latency: the same model after inference optimisations that keep its outputs
up to float rounding (``vbench profile --optimize``).

In order: BatchNorm folded into the conv that feeds it (``bn_fold``: only exact pairs,
verified on logits); channels-last memory format (channels_last for 4-D weights,
channels_last_3d for 5-D), kept only when a short timing inside the run says it is not
slower on this model; ``torch.compile`` (inductor), kept likewise only when a short
timing finds the compiled model not slower than the eager one (inductor made TSM and
STSM 18-24% slower on this CPU), and whose failure is recorded with its one-line reason
and leaves the model eager; all under ``torch.inference_mode``. Compile time is measured
apart and is not latency: warm-up goes on until the calls stop slowing down (recompiles
included) before the timing starts.

``max_logit_diff`` alone cannot say whether a change is "float rounding": a randomly
initialised deep model can amplify rounding (``tsi_r50`` moves its logits by 0.08 at a
scale of 5 when its input moves by one part in 10^7). So the record also keeps
``eager_fp64_diff``, the eager float32 model's own distance from the same model in
float64 on the same input: the rounding the model already carries.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from vbench.profiling.bn_fold import fold_batchnorm, logit_gap
from vbench.profiling.execution import channels_last_weights
from vbench.profiling.timing import measure_latency
from vbench.runtime.device import resolve_precision, synchronize

COMPILE_WARMUP_MAX = 20  # calls after the compiling one, at most, until the times settle
COMPILE_WARMUP_S = 30.0  # and seconds at most (a model of seconds a pass settles in a few calls)
SETTLED = 1.5  # a warm call is no slower than this times the fastest so far


@dataclass
class OptimizedModel:
    run: Callable[[], torch.Tensor]
    optimizations: list[str] = field(default_factory=list)
    bn_folded: int = 0
    batchnorms: int = 0
    channels_last_trial: dict | None = None
    compiled: bool = False
    compile_error: str | None = None
    compile_s: float | None = None
    compile_warmup_calls: int | None = None
    compile_trial: dict | None = None
    max_logit_diff: float | None = None
    eager_fp64_diff: float | None = None
    notes: list[str] = field(default_factory=list)
    eager_run: Callable[[], torch.Tensor] | None = None  # the same model, not compiled
    reference: torch.Tensor | None = None  # the eager model's logits on the same input

    def give_up_compile(self, error: BaseException) -> None:
        """The compiled model failed after its warm-up: go on without it, and say so."""
        self.compiled, self.compile_error = False, f"failed after compiling: {one_line(error)}"
        self.optimizations = [o for o in self.optimizations if not o.startswith("torch.compile")]
        self.run = self.eager_run
        self.max_logit_diff = logit_gap(self.run(), self.reference)


def _runner(module: Callable, inputs: torch.Tensor, device: torch.device, precision: str) -> Callable:
    dtype = resolve_precision(precision)
    autocast = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype != torch.float32 else contextlib.nullcontext

    def run():
        with torch.inference_mode(), autocast():
            out = module(inputs)
        synchronize(device)
        return out

    return run


def _memory_format(dim: int) -> torch.memory_format | None:
    return {4: torch.channels_last, 5: torch.channels_last_3d}.get(dim)


def _channels_last_input(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """The input in the channels-last layout of its rank, when the model has conv weights
    of that rank (a 2D-trunk model that reshapes a 5-D clip keeps its input as it is)."""
    fmt = _memory_format(inputs.dim())
    if fmt is None or not any(p.dim() == inputs.dim() for p in model.parameters()):
        return inputs
    return inputs.contiguous(memory_format=fmt)


def one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200]}" if text else type(error).__name__


def _try_channels_last(model: nn.Module, inputs: torch.Tensor, device: torch.device, precision: str,
                       budget_s: float) -> tuple[nn.Module, torch.Tensor, dict | None]:
    """Keep channels-last when a short timing says it is not slower on this model."""
    if not any(p.dim() in (4, 5) for p in model.parameters()):
        return model, inputs, None
    plain = measure_latency(_runner(model, inputs, device, precision), device, warmup=2, budget_s=budget_s)
    channels_last_weights(model)
    cl_inputs = _channels_last_input(model, inputs)
    fast = measure_latency(_runner(model, cl_inputs, device, precision), device, warmup=2, budget_s=budget_s)
    keep = fast.median_ms <= plain.median_ms
    trial = {"contiguous_ms": round(plain.median_ms, 3), "channels_last_ms": round(fast.median_ms, 3),
             "kept": keep, "decided_on": "the BN-folded eager model"}
    if keep:
        return model, cl_inputs, trial
    for p in model.parameters():
        p.data = p.data.contiguous()
    return model, inputs, trial


def _compiled_graphs() -> int:
    """Graphs dynamo has compiled so far (a recompile adds one)."""
    from torch._dynamo.utils import counters

    return counters["stats"]["unique_graphs"]


def _compile(model: nn.Module, run_eager: Callable, inputs: torch.Tensor, device: torch.device,
             precision: str, result: OptimizedModel) -> Callable:
    """``run`` of the compiled model, warmed until its calls settle; the eager ``run`` and
    the reason when compiling fails."""
    try:
        torch._dynamo.reset()  # a fresh cache: earlier models' graphs must not hit the recompile limit
        run = _runner(torch.compile(model), inputs, device, precision)
        start = time.perf_counter()
        run()  # compiles
        result.compile_s = round(time.perf_counter() - start, 3)
        times: list[float] = []
        graphs = [_compiled_graphs()]
        warm_until = time.perf_counter() + COMPILE_WARMUP_S
        settled = False
        for _ in range(COMPILE_WARMUP_MAX):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
            graphs.append(_compiled_graphs())
            # settled: three calls in a row without a new graph (no recompile), none slow
            settled = len(times) >= 3 and graphs[-1] == graphs[-4] and max(times[-3:]) <= SETTLED * min(times)
            if settled or time.perf_counter() > warm_until:
                break
        result.compile_warmup_calls = len(times)
        if not settled:
            result.notes.append(f"compiled model still settling after {len(times)} warm-up calls "
                                f"(fastest {min(times) * 1e3:.1f} ms, last {times[-1] * 1e3:.1f} ms)")
        result.compiled = True
        return run
    except Exception as error:  # recorded; the model is measured eager
        result.compile_error = one_line(error)
        torch._dynamo.reset()
        return run_eager


def _compile_if_faster(folded: nn.Module, run_eager: Callable, inputs: torch.Tensor, device: torch.device,
                       precision: str, result: OptimizedModel, budget_s: float) -> Callable:
    """The compiled ``run`` when a short timing finds it not slower than ``run_eager``."""
    run = _compile(folded, run_eager, inputs, device, precision, result)
    if not result.compiled:
        return run_eager
    try:
        compiled = measure_latency(run, device, warmup=1, budget_s=budget_s)
    except Exception as error:  # the compiled model broke after its warm-up
        result.give_up_compile(error)
        return run_eager
    eager = measure_latency(run_eager, device, warmup=1, budget_s=budget_s)
    keep = compiled.median_ms <= eager.median_ms
    result.compile_trial = {"eager_ms": round(eager.median_ms, 3), "compiled_ms": round(compiled.median_ms, 3),
                            "kept": keep}
    if keep:
        return run
    result.compiled = False
    result.notes.append(f"torch.compile not kept: {compiled.median_ms:.1f} ms compiled against "
                        f"{eager.median_ms:.1f} ms eager in a short timing")
    return run_eager


def fp64_gap(model: nn.Module, inputs: torch.Tensor, eager_out: torch.Tensor) -> float | None:
    """Largest |float32 - float64| logit of the eager model on ``inputs``: the rounding it
    carries; None where a layer has no float64 kernel."""
    import copy

    try:
        double = copy.deepcopy(model).double()
        with torch.inference_mode():
            reference = double(inputs.double())
        if isinstance(reference, (tuple, list)):
            reference = reference[0]
        return (eager_out.double() - reference).abs().max().item()
    except (RuntimeError, NotImplementedError, TypeError):
        return None


def optimize_for_inference(model: nn.Module, inputs: torch.Tensor, device: torch.device, precision: str = "fp32",
                           trial_budget_s: float = 2.0, compile: bool = True) -> OptimizedModel:
    """The deploy-mode version of eager ``model`` (left untouched) on ``inputs``.

    ``max_logit_diff`` compares its output with the eager model's on the same input;
    ``eager_fp64_diff`` is the eager model's own float32 rounding (fp32 runs only).
    """
    model = model.eval()
    eager_out = _runner(model, inputs, device, precision)().float()
    folded, plan, note = fold_batchnorm(model, inputs)
    result = OptimizedModel(run=None, bn_folded=len(plan.pairs), batchnorms=plan.batchnorms)  # type: ignore[arg-type]
    if precision == "fp32":
        result.eager_fp64_diff = fp64_gap(model, inputs, eager_out)
    if note:
        result.notes.append(note)
    if plan.pairs:
        result.optimizations.append(f"fold_bn ({len(plan.pairs)} of {plan.batchnorms} BatchNorms)")
    folded, inputs, result.channels_last_trial = _try_channels_last(folded, inputs, device, precision,
                                                                    trial_budget_s)
    if result.channels_last_trial and result.channels_last_trial["kept"]:
        result.optimizations.append("channels_last")
    run = result.eager_run = _runner(folded, inputs, device, precision)
    result.reference = eager_out
    if compile:
        run = _compile_if_faster(folded, run, inputs, device, precision, result, trial_budget_s)
        if result.compiled:
            result.optimizations.append("torch.compile (inductor)")
    result.optimizations.append("inference_mode")
    result.run = run
    try:
        result.max_logit_diff = logit_gap(run(), eager_out)
    except Exception as error:  # the compiled model broke after its warm-up
        if not result.compiled:
            raise
        result.give_up_compile(error)
    return result
