"""Counting multiply-accumulates the way this field reports them, without blind spots.

GFLOPs in vbench are multiply-accumulates (MACs), as fvcore counts them and as the
papers of this field call "FLOPs", per view (one clip, batch 1). fvcore's defaults cover
convolutions, matmul/bmm/einsum/linear, norms (BatchNorm at inference: 2 per element
with its affine; "BN included") and a few 2D ops; everything else it counts as zero
with a log warning. vbench adds handles for the ops of this zoo that do real work:

- MAC-like ops, added to ``gflops``: scaled dot-product attention (the two matmuls),
  ``baddbmm``/``addbmm``, 3D and 1D pooling, adaptive 3D pooling and max-pooling (one
  per input element, fvcore's rule for ``adaptive_avg_pool2d``), windowed pooling (one
  per output element per window tap), trilinear/nearest 3D upsampling (fvcore's 2D
  rules extended: 8 and 1 per output element).
- elementwise ops (add, mul, sigmoid, softmax, exp, mean...), which are not MACs:
  counted as one op per output element into a separate ``elementwise_gops``, so that
  a model whose cost hides in them is visible, but kept out of the paper-comparable
  figure.

Whatever is still unhandled (an opaque ``prim::PythonOp`` from a custom autograd
Function, an op unknown to both) is listed in ``uncounted`` by name and call count,
never silently dropped. So is a call whose shapes (or pooling window) the trace does
not give: a vbench handle lists it as ``"aten::<op> (shape unknown)"`` rather than count
it as 0. ``dispatch_gmacs`` re-counts the model with torch's ``FlopCounterMode``
(dispatcher level, so it sees inside autograd Functions; no norms, no pooling) as an
audit of the traced count.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

_ELEMENTWISE_PREFIX = "elementwise."

# Ops that are elementwise or reductions: one op per output element (reductions: per input).
_ELEMENTWISE_OUT = (
    "add", "add_", "sub", "sub_", "rsub", "mul", "mul_", "div", "div_", "neg", "abs", "pow",
    "sqrt", "rsqrt", "exp", "log", "sigmoid", "sigmoid_", "tanh", "tanh_", "softmax", "log_softmax",
    "gelu", "silu", "silu_", "hardswish", "hardswish_", "hardsigmoid", "hardsigmoid_", "leaky_relu",
    "leaky_relu_", "elu", "elu_", "reciprocal", "addcmul", "addcmul_", "addcdiv", "where", "lerp", "erf",
    "softplus", "square", "maximum", "minimum", "clamp_min", "clamp_max", "relu", "relu_",
    "cumsum", "sign", "relu6", "hardtanh", "hardtanh_",
)
# Ops that move or fill memory and do no arithmetic: ignored, like fvcore's own list.
_NO_ARITHMETIC = (
    "empty_like", "fill_", "zero_", "clone", "masked_fill_", "pad", "repeat", "index_select",
    "expand_as", "flip", "view_as", "movedim", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle",
    "new_ones", "ones_like", "rand_like", "randn_like", "repeat_interleave", "tile", "unflatten",
    "alias", "lift_fresh", "detach_", "dropout_", "feature_dropout", "alpha_dropout", "bernoulli_",
    "im2col", "col2im", "unfold", "as_strided", "_unsafe_view", "linspace", "scatter", "scatter_",
    "index_add_", "index_copy_", "masked_select", "resize_", "one_hot", "argsort", "lt", "le", "ne",
    "logical_and", "logical_or", "logical_not", "bitwise_and", "bitwise_or", "__or__", "__iand__",
    "div_floor", "floor_divide_", "round", "ceil", "trunc", "frac", "type_as", "to",
    "eye", "diagonal",
)
_REDUCTIONS_IN = ("mean", "sum", "prod", "amax", "amin", "var", "std", "norm", "linalg_vector_norm",
                  "logsumexp", "frobenius_norm", "topk", "sort", "argmax", "argmin", "max", "min")


class _ShapeUnknown(Exception):
    """A value a handle needs has no traced shape: the call is listed, not counted as 0."""


def _shape(value: Any) -> list[int] | None:
    try:
        if value.isCompleteTensor():
            return list(value.type().sizes())
    except (AttributeError, RuntimeError):
        pass
    return None


def _known_shape(value: Any) -> list[int]:
    shape = _shape(value)
    if shape is None:
        raise _ShapeUnknown
    return shape


def _numel(value: Any) -> int:
    """Elements of a traced tensor; 0 for a plain number (no tensor work)."""
    return 0 if _is_number(value) else math.prod(_known_shape(value))


def _is_number(value: Any) -> bool:
    try:
        return value.type().kind() in ("IntType", "FloatType", "BoolType", "NumberType")
    except (AttributeError, RuntimeError):
        return False


def _first(values: list) -> Any:
    if not values:
        raise _ShapeUnknown
    return values[0]


def _int_list(value: Any) -> list[int] | None:
    """A traced int list argument (e.g. a pooling window), constant or built by ListConstruct."""
    try:
        constant = value.toIValue()
        if constant is not None:
            return list(constant) if isinstance(constant, (list, tuple)) else [int(constant)]
        node = value.node()
        if node.kind() == "prim::ListConstruct":
            items = [v.toIValue() for v in node.inputs()]
            if all(isinstance(i, int) for i in items):
                return items
    except (AttributeError, RuntimeError, TypeError):
        pass
    return None


def _counter(name: str, count: float) -> Counter:
    return Counter({name: int(count)})


def _elementwise_out(name: str):
    return lambda inputs, outputs: _counter(_ELEMENTWISE_PREFIX + name, _numel(_first(outputs)))


def _reduction_in(name: str):
    return lambda inputs, outputs: _counter(_ELEMENTWISE_PREFIX + name, _numel(_first(inputs)))


def _per_input(name: str):
    return lambda inputs, outputs: _counter(name, _numel(_first(inputs)))


def _per_output(name: str, scale: int):
    return lambda inputs, outputs: _counter(name, scale * _numel(_first(outputs)))


def _window_pool(name: str):
    """max/avg pool with an explicit window: window taps per output element."""

    def handle(inputs, outputs):
        kernel = _int_list(inputs[1]) if len(inputs) > 1 else None
        if kernel is None:
            raise _ShapeUnknown  # an unknown window is not a window of 1
        return _counter(name, math.prod(kernel) * _numel(_first(outputs)))

    return handle


def _sdpa(inputs, outputs):
    """softmax(Q K^T) V: L*S*E for the scores plus L*S*Ev for the weighted sum, per head."""
    q, k, v = (_known_shape(t) for t in inputs[:3])
    *batch, length, embed = q
    source = k[-2]
    return _counter("scaled_dot_product_attention", math.prod(batch) * length * source * (embed + v[-1]))


def _baddbmm(name: str):
    def handle(inputs, outputs):
        a, b = _known_shape(inputs[1]), _known_shape(inputs[2])
        return _counter(name, a[0] * a[1] * a[2] * b[2])

    return handle


def _listing_unknown(op: str, handle, unknown: Counter):
    """``handle``, but a call without the shapes it needs goes to ``unknown`` and counts nothing."""

    def guarded(inputs, outputs):
        try:
            return handle(inputs, outputs)
        except _ShapeUnknown:
            unknown[f"{op} (shape unknown)"] += 1
            return Counter()

    return guarded


def vbench_handles(unknown: Counter | None = None) -> dict[str, Any]:
    """The handles vbench adds to fvcore's defaults (see module docstring).

    A call whose shapes the trace lacks is tallied in ``unknown`` (op name -> calls).
    """
    unknown = Counter() if unknown is None else unknown
    handles: dict[str, Any] = {
        "aten::scaled_dot_product_attention": _sdpa,
        "aten::baddbmm": _baddbmm("baddbmm"),
        "aten::addbmm": _baddbmm("addbmm"),
        "aten::adaptive_avg_pool1d": _per_input("adaptive_avg_pool1d"),
        "aten::adaptive_avg_pool3d": _per_input("adaptive_avg_pool3d"),
        "aten::adaptive_max_pool1d": _per_input("adaptive_max_pool1d"),
        "aten::adaptive_max_pool2d": _per_input("adaptive_max_pool2d"),
        "aten::adaptive_max_pool3d": _per_input("adaptive_max_pool3d"),
        "aten::upsample_trilinear3d": _per_output("upsample_trilinear3d", 8),
        "aten::upsample_nearest3d": _per_output("upsample_nearest3d", 1),
        "aten::upsample_nearest1d": _per_output("upsample_nearest1d", 1),
        "aten::upsample_linear1d": _per_output("upsample_linear1d", 2),
        "aten::upsample_bicubic2d": _per_output("upsample_bicubic2d", 16),
    }
    for pool in ("max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d"):
        handles[f"aten::{pool}"] = _window_pool(pool)
    for op in _ELEMENTWISE_OUT:
        handles[f"aten::{op}"] = _elementwise_out(op.rstrip("_"))
    for op in _REDUCTIONS_IN:
        handles[f"aten::{op}"] = _reduction_in(op)
    handles = {op: _listing_unknown(op, handle, unknown) for op, handle in handles.items()}
    for op in _NO_ARITHMETIC:
        handles[f"aten::{op}"] = None  # fvcore: a None handle marks the op as ignored
    return handles


@dataclass
class FlopCount:
    """MACs of one forward pass, split by operator, plus what no handle could count."""

    macs: int
    by_operator: dict[str, int]
    elementwise_ops: int
    uncounted: dict[str, int] = field(default_factory=dict)
    dispatch_macs: int | None = None

    @property
    def gflops(self) -> float:
        """GMACs: the figure papers of this field print as GFLOPs."""
        return self.macs / 1e9

    def gflops_of(self, operators: tuple[str, ...]) -> float:
        """GMACs of a subset of operators (e.g. ``("conv", "linear")`` for conv+fc only)."""
        return sum(self.by_operator.get(op, 0) for op in operators) / 1e9

    @property
    def gflops_without_bn(self) -> float:
        return (self.macs - self.by_operator.get("batch_norm", 0)) / 1e9


def count_flops(model: nn.Module, inputs: torch.Tensor | tuple, *, audit: bool = True) -> FlopCount:
    """Count the MACs of ``model(inputs)`` (eval mode, no grad) with fvcore plus vbench's handles."""
    with warnings.catch_warnings():  # fvcore's import touches deprecated torch.jit APIs
        warnings.simplefilter("ignore", FutureWarning)
        from fvcore.nn import FlopCountAnalysis

    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    was_training = model.training
    model.eval()
    try:
        unknown: Counter = Counter()
        analysis = FlopCountAnalysis(model, inputs).set_op_handle(**vbench_handles(unknown))
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        analysis.tracer_warnings("none")
        fvcore_logger = logging.getLogger("fvcore")
        previous = fvcore_logger.level
        fvcore_logger.setLevel(logging.ERROR)
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer and deprecation warnings say nothing about the count
                counts = Counter(analysis.by_operator())
        finally:
            fvcore_logger.setLevel(previous)
        uncounted = dict(analysis.unsupported_ops()) | dict(unknown)
        dispatch = count_dispatch_macs(model, inputs) if audit else None
    finally:
        model.train(was_training)
    elementwise = sum(v for k, v in counts.items() if k.startswith(_ELEMENTWISE_PREFIX))
    macs = {k: int(v) for k, v in counts.items() if not k.startswith(_ELEMENTWISE_PREFIX) and v}
    return FlopCount(sum(macs.values()), dict(sorted(macs.items())), int(elementwise), uncounted, dispatch)


def count_dispatch_macs(model: nn.Module, inputs: tuple) -> int | None:
    """MACs as torch's FlopCounterMode sees them (it counts 2 FLOPs per MAC)."""
    from torch.utils.flop_counter import FlopCounterMode

    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(*inputs)
    except Exception:  # an audit only: a model FlopCounterMode cannot run is not an error
        return None
    return int(counter.get_total_flops()) // 2
