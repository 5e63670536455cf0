"""Fold eval-mode BatchNorm into the convolution that feeds it, only where that is exact.

Most vbench models cannot be traced by ``torch.fx`` (their forward checks the input's
shape), so the conv -> BN pairs are found from one real forward pass instead: module
hooks see which tensor each conv produced and which tensor each BN read, and a
``TorchFunctionMode`` counts every op that reads a conv's output or weight. A pair is
folded only when the BN read the conv's output unchanged (same tensor, same version),
nothing else read that output, each module ran once, and the conv's parameters are
used by that conv alone. ``verify_fold`` then checks the logits of a copy whose
BatchNorm statistics are randomised (the default statistics are nearly an identity, so
a wrong fold would pass unnoticed on them).
"""

from __future__ import annotations

import copy
import weakref
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

_CONVS = (nn.Conv2d, nn.Conv3d)
_BNS = (nn.BatchNorm2d, nn.BatchNorm3d)


def _plain_conv(module: nn.Module) -> bool:
    """A Conv2d/Conv3d (or a subclass that only renames it) whose output is conv(x; W, b)."""
    for base in _CONVS:
        if isinstance(module, base):
            kind = type(module)
            return kind.forward is base.forward and kind._conv_forward is base._conv_forward
    return False


def _plain_bn(module: nn.Module) -> bool:
    return (isinstance(module, _BNS) and type(module).forward is _BatchNorm.forward and not module.training
            and module.track_running_stats and module.running_mean is not None)


class _ReadCounter(TorchFunctionMode):
    """Counts, for each watched tensor, the torch calls that take it as an argument and
    return a tensor (metadata such as ``dim()`` or ``shape`` is not a read of the values)."""

    def __init__(self):
        super().__init__()
        self.watched: dict[int, tuple[weakref.ref, str]] = {}
        self.reads: dict[str, int] = {}

    def watch(self, tensor: torch.Tensor, label: str) -> None:
        self.watched[id(tensor)] = (weakref.ref(tensor), label)
        self.reads.setdefault(label, 0)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        if any(isinstance(leaf, torch.Tensor) for leaf in tree_leaves(result)):
            for leaf in tree_leaves((args, kwargs or {})):
                entry = self.watched.get(id(leaf)) if isinstance(leaf, torch.Tensor) else None
                if entry is not None and entry[0]() is leaf:
                    self.reads[entry[1]] += 1
        return result


@dataclass
class FoldPlan:
    pairs: list[tuple[str, str]]  # (conv name, BN name), foldable
    batchnorms: int  # every BatchNorm2d/3d of the model
    refused: dict[str, str]  # BN name -> why it stays


def find_foldable_pairs(model: nn.Module, inputs: torch.Tensor) -> FoldPlan:
    """Run ``model(inputs)`` once (eval, no grad) and list the exact conv -> BN pairs."""
    names = {id(m): n for n, m in model.named_modules()}
    convs = {n: m for n, m in model.named_modules() if _plain_conv(m)}
    bns = {n: m for n, m in model.named_modules() if isinstance(m, _BNS)}
    param_uses: dict[int, int] = {}
    for _, p in model.named_parameters(remove_duplicate=False):
        param_uses[id(p)] = param_uses.get(id(p), 0) + 1
    counter = _ReadCounter()
    calls: dict[str, int] = {}
    outputs: dict[str, tuple[weakref.ref, int]] = {}
    consumed: dict[str, str] = {}  # BN -> the conv whose untouched output it read

    def after_conv(module, args, output):
        name = names[id(module)]
        calls[name] = calls.get(name, 0) + 1
        outputs[name] = (weakref.ref(output), output._version)
        counter.watch(output, f"out:{name}")

    def before_bn(module, args):
        name = names[id(module)]
        calls[name] = calls.get(name, 0) + 1
        x = args[0] if args else None
        for conv_name, (ref, version) in outputs.items():
            if ref() is x and x._version == version:
                consumed[name] = conv_name

    handles = [m.register_forward_hook(after_conv) for m in convs.values()]
    handles += [m.register_forward_pre_hook(before_bn) for m in bns.values()]
    for conv_name, conv in convs.items():
        for p in (conv.weight, conv.bias):
            if p is not None:
                counter.watch(p, f"param:{conv_name}")
    try:
        # not inference mode (even when a caller is in it): its tensors keep no version counter
        with torch.inference_mode(False), torch.no_grad(), counter:
            model.eval()(inputs)
    finally:
        for handle in handles:
            handle.remove()

    pairs, refused = [], {}
    for bn_name, bn in bns.items():
        conv_name = consumed.get(bn_name)
        conv = convs.get(conv_name) if conv_name else None
        params = [p for p in (conv.weight, conv.bias) if p is not None] if conv is not None else []
        if not _plain_bn(bn):
            refused[bn_name] = "not a plain eval-mode BatchNorm with running statistics"
        elif conv is None:
            refused[bn_name] = "its input is not the untouched output of a Conv2d/Conv3d"
        elif calls.get(bn_name) != 1 or calls.get(conv_name) != 1:
            refused[bn_name] = f"{conv_name} or the BN runs more than once a forward pass"
        elif counter.reads[f"out:{conv_name}"] != 1:
            refused[bn_name] = f"the output of {conv_name} is read by {counter.reads[f'out:{conv_name}']} ops"
        elif counter.reads[f"param:{conv_name}"] != len(params) or any(param_uses[id(p)] != 1 for p in params):
            refused[bn_name] = f"the weights of {conv_name} are used elsewhere too"
        elif bn.num_features != conv.out_channels:
            refused[bn_name] = f"{conv_name} has {conv.out_channels} channels, the BN {bn.num_features}"
        else:
            pairs.append((conv_name, bn_name))
    return FoldPlan(pairs, len(bns), refused)


def _parent(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    path, _, leaf = name.rpartition(".")
    return (model.get_submodule(path) if path else model), leaf


@torch.no_grad()
def fold_pairs(model: nn.Module, pairs: list[tuple[str, str]]) -> nn.Module:
    """Fold each BN into its conv (in place) and put an ``nn.Identity`` where the BN was."""
    for conv_name, bn_name in pairs:
        conv, bn = model.get_submodule(conv_name), model.get_submodule(bn_name)
        scale = bn.running_var.double().add(bn.eps).rsqrt()
        if bn.weight is not None:
            scale = scale * bn.weight.double()
        shift = -bn.running_mean.double() * scale
        if bn.bias is not None:
            shift = shift + bn.bias.double()
        weight = conv.weight.double() * scale.view(-1, *([1] * (conv.weight.dim() - 1)))
        bias = shift + (conv.bias.double() * scale if conv.bias is not None else 0)
        conv.weight.copy_(weight.to(conv.weight.dtype))
        conv.bias = nn.Parameter(bias.to(conv.weight.dtype), requires_grad=conv.weight.requires_grad)
        parent, leaf = _parent(model, bn_name)
        setattr(parent, leaf, nn.Identity())
    return model


@torch.no_grad()
def randomise_batchnorm(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BN statistics and affine parameters far from the identity (in place)."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, _BatchNorm) and module.running_mean is not None:
            n = module.num_features
            uniform = lambda lo, hi: torch.rand(n, generator=generator) * (hi - lo) + lo  # noqa: E731
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
            module.running_var.copy_(uniform(0.5, 2.0))
            if module.weight is not None:
                module.weight.copy_(uniform(0.5, 1.5))
                module.bias.copy_(torch.randn(n, generator=generator) * 0.1)
    return model


def logit_gap(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest absolute difference of two outputs (float32)."""
    return (a.float() - b.float()).abs().max().item()


def verify_fold(model: nn.Module, inputs: torch.Tensor, pairs: list[tuple[str, str]],
                rtol: float = 1e-4) -> tuple[bool, float]:
    """Whether folding ``pairs`` keeps the logits of a BN-randomised copy of ``model``
    (gap at most ``rtol`` of the largest logit, or of 1), and that gap."""
    probe = randomise_batchnorm(copy.deepcopy(model).eval())
    with torch.inference_mode():
        reference = probe(inputs)
        folded = fold_pairs(probe, pairs)(inputs)
    gap = logit_gap(reference, folded)
    return gap <= rtol * max(1.0, reference.abs().max().item()), gap


def fold_batchnorm(model: nn.Module, inputs: torch.Tensor) -> tuple[nn.Module, FoldPlan, str | None]:
    """A copy of ``model`` with every exact conv -> BN pair folded, its plan, and a note
    when verification refused the fold (then the copy is unfolded)."""
    plan = find_foldable_pairs(model, inputs)
    folded = copy.deepcopy(model)
    if not plan.pairs:
        return folded, plan, None
    ok, gap = verify_fold(model, inputs, plan.pairs)
    if not ok:
        note = f"BatchNorm not folded: the folded copy's logits moved by {gap:.3g} on randomised statistics"
        return folded, FoldPlan([], plan.batchnorms, plan.refused), note
    return fold_pairs(folded, plan.pairs), plan, None
