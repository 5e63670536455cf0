import torch
from torch import nn
from torch.nn import functional as F

from vbench.profiling.flops import count_flops


class Attention(nn.Module):
    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v)


def test_scaled_dot_product_attention_is_counted_as_two_matmuls():
    b, h, length, source, e = 2, 3, 5, 7, 4
    q, k, v = torch.randn(b, h, length, e), torch.randn(b, h, source, e), torch.randn(b, h, source, 6)
    count = count_flops(Attention(), (q, k, v))
    assert count.by_operator == {"scaled_dot_product_attention": b * h * length * source * (e + 6)}
    assert count.elementwise_ops == 0 and count.uncounted == {}


class PoolsAndAdds(nn.Module):
    def forward(self, x):
        y = F.max_pool3d(x, kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        z = F.adaptive_avg_pool3d(x, 1)
        return torch.sigmoid(y) * 2 + z


def test_pooling_is_counted_and_elementwise_ops_are_kept_apart():
    x = torch.randn(1, 2, 4, 8, 8)
    count = count_flops(PoolsAndAdds(), x)
    out = 1 * 2 * 4 * 4 * 4
    assert count.by_operator["max_pool3d"] == 9 * out  # 3x3 window per output element
    assert count.by_operator["adaptive_avg_pool3d"] == x.numel()  # fvcore's rule: one per input element
    assert count.elementwise_ops == 3 * out  # sigmoid, mul, add
    assert count.macs == 9 * out + x.numel()


class Opaque(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x @ x.transpose(-1, -2)

    @staticmethod
    def backward(ctx, grad):
        return grad


class UsesOpaque(nn.Module):
    def forward(self, x):
        return Opaque.apply(x)


def test_custom_autograd_functions_are_listed_as_uncounted_and_seen_by_the_audit():
    x = torch.randn(2, 16, 8)
    count = count_flops(UsesOpaque(), x)
    assert count.macs == 0 and any("PythonOp" in name for name in count.uncounted)
    assert count.dispatch_macs == 2 * 16 * 16 * 8  # FlopCounterMode sees the matmul inside


def test_conv_and_linear_counts_match_the_analytic_formula():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.Flatten(), nn.Linear(8 * 6 * 6, 10))
    count = count_flops(model, torch.randn(1, 3, 6, 6))
    assert count.by_operator == {"conv": 8 * 6 * 6 * 3 * 9, "linear": 8 * 6 * 6 * 10}


class _Untyped:
    """A traced value whose shape the trace does not give (as fvcore's handles receive it)."""

    def isCompleteTensor(self):
        return False

    def type(self):
        class TensorType:
            def kind(self):
                return "TensorType"

        return TensorType()

    def toIValue(self):
        return None

    def node(self):
        class Node:
            def kind(self):
                return "prim::Param"

        return Node()


def test_a_call_without_shapes_is_listed_as_uncounted_never_counted_as_zero():
    from collections import Counter

    from vbench.profiling.flops import vbench_handles

    unknown = Counter()
    handles = vbench_handles(unknown)
    blind = [_Untyped()] * 3
    for op in ("aten::scaled_dot_product_attention", "aten::baddbmm", "aten::adaptive_avg_pool3d",
               "aten::upsample_trilinear3d", "aten::max_pool3d", "aten::sigmoid", "aten::mean", "aten::sigmoid"):
        assert handles[op](blind, blind) == Counter()
    assert handles["aten::add"](blind, []) == Counter()  # no output at all
    assert unknown == {"aten::scaled_dot_product_attention (shape unknown)": 1, "aten::baddbmm (shape unknown)": 1,
                       "aten::adaptive_avg_pool3d (shape unknown)": 1, "aten::upsample_trilinear3d (shape unknown)": 1,
                       "aten::max_pool3d (shape unknown)": 1, "aten::sigmoid (shape unknown)": 2,
                       "aten::mean (shape unknown)": 1, "aten::add (shape unknown)": 1}


class PoolBySize(nn.Module):
    def forward(self, x):
        return F.max_pool2d(x, kernel_size=[x.shape[-2] // 2, x.shape[-1] // 2])


def test_a_pool_whose_window_is_not_in_the_trace_is_uncounted_not_a_window_of_one():
    """The window is computed from the input's size, so the trace holds no constant for it (it used to count 1 tap)."""
    count = count_flops(PoolBySize(), torch.randn(1, 2, 8, 8), audit=False)
    assert count.uncounted == {"aten::max_pool2d (shape unknown)": 1} and count.macs == 0
