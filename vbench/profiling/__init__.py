"""Measuring models: params, GFLOPs (MACs), latency, throughput and peak memory."""

from vbench.profiling.flops import FlopCount, count_flops
from vbench.profiling.params import count_params

__all__ = ["FlopCount", "count_flops", "count_params", "profile"]


def profile(*args, **kwargs):
    from vbench.profiling.runner import profile as _profile

    return _profile(*args, **kwargs)
