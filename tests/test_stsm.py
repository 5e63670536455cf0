import pytest
import torch
from torch.nn import functional as F

import vbench
from vbench.errors import InputShapeError, VbenchError
from vbench.models.stsm import stsm_plugins
from vbench.models.modules.shift import TemporalShift
from vbench.models.modules.stsm import SpatioTemporalShift, spatiotemporal_shift
from vbench.profiling.flops import count_flops


def _sparse_kernel_reference(x: torch.Tensor, t: int) -> torch.Tensor:
    """The shift as the depthwise 3x3x3 conv with a one-hot kernel per channel (the paper's view)."""
    nt, c, h, w = x.shape
    ft, fs = c // 8, c // 16
    # kernel index (dt, dh, dw) in 0..2 of the tap each channel reads: 1 is the centre
    taps = [(2, 1, 1)] * ft + [(0, 1, 1)] * ft + [(1, 2, 1)] * fs + [(1, 0, 1)] * fs + [(1, 1, 2)] * fs \
        + [(1, 1, 0)] * fs
    taps += [(1, 1, 1)] * (c - len(taps))
    weight = torch.zeros(c, 1, 3, 3, 3)
    for channel, (dt, dh, dw) in enumerate(taps):
        weight[channel, 0, dt, dh, dw] = 1
    video = x.view(nt // t, t, c, h, w).transpose(1, 2)
    out = F.conv3d(video, weight, padding=1, groups=c)
    return out.transpose(1, 2).reshape(nt, c, h, w)


@pytest.mark.parametrize("c", [16, 64])
def test_shift_is_a_sparse_kernel_convolution(c):
    x = torch.randn(2 * 4, c, 5, 6)
    assert torch.equal(spatiotemporal_shift(x, 4), _sparse_kernel_reference(x, 4))


def test_shift_moves_each_group_the_right_way():
    t, c, h, w = 3, 16, 4, 4
    x = torch.randn(t, c, h, w)
    out = spatiotemporal_shift(x, t)
    # 1/8 = 2 channels each way in time, 1/16 = 1 channel from each spatial neighbour
    # channel 0: from the next frame; 2: from the previous one; 4: from the row below;
    # 7: from the left column; 8+: unchanged
    assert torch.equal(out[0, 0], x[1, 0]) and torch.equal(out[2, 0], torch.zeros(h, w))
    assert torch.equal(out[1, 2], x[0, 2]) and torch.equal(out[0, 2], torch.zeros(h, w))
    assert torch.equal(out[1, 4, :-1], x[1, 4, 1:]) and torch.equal(out[1, 4, -1], torch.zeros(w))
    assert torch.equal(out[1, 7, :, 1:], x[1, 7, :, :-1]) and torch.equal(out[1, 7, :, 0], torch.zeros(h))
    assert torch.equal(out[:, 8:], x[:, 8:])


def _reverse_frames(x):
    return x.flip(2)


def test_stsm_sees_frame_order_and_space():
    x = torch.randn(2, 3, 4, 32, 32)
    tsn = vbench.create_model("tsn_r18", num_classes=5, num_frames=4).eval()
    torch.nn.init.normal_(tsn.head.fc.weight)
    stsm = vbench.create_model("stsm_r18", num_classes=5, num_frames=4).eval()
    tsm = vbench.create_model("tsm_r18", num_classes=5, num_frames=4).eval()
    stsm.load_state_dict(tsn.state_dict())
    tsm.load_state_dict(tsn.state_dict())
    with torch.no_grad():
        assert not torch.allclose(stsm(x), stsm(_reverse_frames(x)), atol=1e-3)
        assert not torch.allclose(stsm(x), tsn(x), atol=1e-3)
        assert not torch.allclose(stsm(x), tsm(x), atol=1e-3)


@pytest.mark.parametrize("host", ["tsn_r18", "tsm_r18", "tada2d_r18"])
def test_stsm_adds_zero_params_and_zero_macs_to_its_host(host):
    plain = vbench.create_model(host, num_frames=4)
    plugged = vbench.create_model(host, num_frames=4, extra_plugins=stsm_plugins())
    assert any(isinstance(m, SpatioTemporalShift) for m in plugged.modules())
    assert sum(p.numel() for p in plain.parameters()) == sum(p.numel() for p in plugged.parameters())
    x = torch.randn(1, 3, 4, 32, 32)
    before, after = count_flops(plain, x, audit=False), count_flops(plugged, x, audit=False)
    assert after.macs == before.macs and after.by_operator == before.by_operator
    assert after.uncounted == before.uncounted


def test_stsm_r50_is_tsn_r50_plus_nothing():
    tsn, stsm = vbench.create_model("tsn_r50"), vbench.create_model("stsm_r50")
    assert sum(p.numel() for p in tsn.parameters()) == sum(p.numel() for p in stsm.parameters())
    assert set(tsn.state_dict()) == set(stsm.state_dict())
    shifted = [b.pre for layer in (stsm.layer1, stsm.layer2, stsm.layer3, stsm.layer4) for b in layer]
    assert len(shifted) == 16 and all(isinstance(m, SpatioTemporalShift) for m in shifted)


def test_stsm_composes_with_tsm_shift_first():
    model = vbench.create_model("tsm_r18", num_frames=4, extra_plugins=stsm_plugins())
    pre = model.layer2[1].pre
    assert isinstance(pre[0], TemporalShift) and isinstance(pre[1], SpatioTemporalShift)


@pytest.mark.parametrize("frames", [8, 16])
def test_stsm_runs_at_depth_18_with_8_and_16_frames(frames):
    model = vbench.create_model("stsm_r18", num_classes=3, num_frames=frames).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, frames, 32, 32)).shape == (1, 3)


def test_stsm_errors_are_clear():
    with pytest.raises(VbenchError, match="at least 2 frames"):
        vbench.create_model("stsm_r18", num_frames=1)
    with pytest.raises(VbenchError, match="at least 2 frames"):
        vbench.create_model("tsn_r18", num_frames=1, extra_plugins=stsm_plugins())
    with pytest.raises(VbenchError, match="must not exceed"):
        vbench.create_model("stsm_r18", num_frames=4, temporal_div=2, spatial_div=4)
    with pytest.raises(InputShapeError, match="built for 4 frames"):
        vbench.create_model("stsm_r18", num_frames=4)(torch.randn(1, 3, 2, 32, 32))
