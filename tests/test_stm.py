import pytest
import torch
from torch import nn
from torch.nn import functional as F

import vbench
from vbench.errors import VbenchError
from vbench.models.checkpoint import load_state_dict
from vbench.models.modules.channelwise import ChannelwiseTemporalConv
from vbench.models.modules.stm import ChannelwiseMotion, cstm_temporal_conv
from vbench.reporting.reported import rows_for


def reverse_frames(x):
    return x.flip(2)


def direct_stm_bottleneck(block, x, frames):
    """An STM bottleneck written out frame by frame from the description in models/stm.py."""
    out = F.relu(block.bn1(block.conv1(x)))
    n = out.shape[0] // frames
    clip = out.view(n, frames, *out.shape[1:])
    weight = block.mid.weight[:, 0]  # (C, 3): taps on t-1, t, t+1
    mixed = torch.stack([
        sum(weight[:, k].view(-1, 1, 1) * clip[:, t + k - 1] for k in range(3) if 0 <= t + k - 1 < frames)
        for t in range(frames)], 1)
    cstm = F.relu(block.bn2(block.conv2(mixed.flatten(0, 1))))
    cmm = block.parallel
    squeezed = cmm.reduce_bn(cmm.reduce(out)).view(n, frames, -1, *out.shape[2:])
    motion = [cmm.transform(squeezed[:, t + 1]) - squeezed[:, t] for t in range(frames - 1)]
    motion = torch.stack(motion + [torch.zeros_like(squeezed[:, 0])], 1).flatten(0, 1)
    side = cmm.restore(motion)
    if block.conv2.stride[0] > 1:
        side = F.max_pool2d(side, 2)
    out = block.bn3(block.conv3(cstm + side))
    identity = x if block.downsample is None else block.downsample(x)
    return F.relu(out + identity)


def randomise(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
            elif isinstance(m, ChannelwiseTemporalConv):
                m.weight.normal_(0, 0.5)


@pytest.mark.parametrize("layer", ["layer1", "layer2"])
def test_stm_block_matches_a_frame_by_frame_transcription(layer):
    model = vbench.create_model("stm_r50", num_frames=3)
    randomise(model)
    block = getattr(model, layer)[0].eval()  # the first block of a stage: projection shortcut (and stride)
    x = torch.randn(2 * 3, block.conv1.in_channels, 8, 8)
    with torch.no_grad():
        assert torch.allclose(block(x), direct_stm_bottleneck(block, x, 3), atol=1e-4)


def test_cstm_temporal_conv_starts_as_a_quarter_shift_each_way():
    conv = cstm_temporal_conv(8, num_frames=3)
    assert conv.weight[:, 0].tolist() == [[1, 0, 0]] * 2 + [[0, 1, 0]] * 4 + [[0, 0, 1]] * 2
    frames = torch.arange(1.0, 4.0).view(3, 1, 1, 1).expand(3, 8, 1, 1)  # frame t holds the value t+1
    out = conv(frames.contiguous())[:, :, 0, 0]
    assert out[:, 0].tolist() == [0, 1, 2] and out[:, 4].tolist() == [1, 2, 3] and out[:, 7].tolist() == [2, 3, 0]


def test_cmm_gives_no_motion_for_a_static_clip():
    cmm = ChannelwiseMotion(32, 16, num_frames=4).eval()
    x = torch.randn(2, 1, 32, 5, 5).expand(2, 4, 32, 5, 5).reshape(8, 32, 5, 5)
    with torch.no_grad():
        motion = cmm.motion(x).view(2, 4, 2, 5, 5)  # a learnt K: (K - I) F, the same at every step but the last
        assert torch.allclose(motion[:, :-1], motion[:, :1].expand_as(motion[:, :-1]), atol=1e-6)
        assert motion[:, -1].abs().max() == 0
        nn.init.dirac_(cmm.transform.weight, groups=cmm.transform.groups)  # K = identity
        assert cmm(x).abs().max() < 1e-6
        moving = x.view(2, 4, 32, 5, 5).clone()
        moving[:, 3] *= 2
        assert cmm(moving.view(8, 32, 5, 5)).view(2, 4, 16, 5, 5)[:, 2].abs().max() > 1e-3


def test_cmm_pools_to_the_strided_conv_size_for_even_and_odd_maps():
    cmm = ChannelwiseMotion(32, 16, num_frames=2, stride=2)
    conv = nn.Conv2d(32, 16, 3, 2, 1)
    for size in (8, 7, 3):
        x = torch.randn(4, 32, size, size)
        assert cmm(x).shape == conv(x).shape


def test_stm_without_its_temporal_modules_is_tsn():
    x = torch.randn(2, 3, 4, 32, 32)
    tsn = vbench.create_model("tsn_r18", num_classes=5, num_frames=4).eval()
    nn.init.normal_(tsn.head.fc.weight)
    stm = vbench.create_model("stm_r18", num_classes=5, num_frames=4).eval()
    report = load_state_dict(stm, tsn.state_dict(), strict=False)  # torchvision names: every TSN tensor lands
    assert not report.unexpected and all(".mid." in k or ".parallel." in k for k in report.missing)
    with torch.no_grad():
        assert not torch.allclose(stm(x), stm(reverse_frames(x)), atol=1e-3)
        for m in stm.modules():
            if isinstance(m, ChannelwiseTemporalConv):
                nn.init.dirac_(m.weight, groups=m.weight.shape[0])  # every CSTM temporal conv at the identity
        only_cmm = stm(x), stm(reverse_frames(x))
        for m in stm.modules():
            if isinstance(m, ChannelwiseMotion):
                m.restore.weight.zero_()
        assert torch.allclose(stm(x), tsn(x), atol=1e-5)
        assert not torch.allclose(*only_cmm, atol=1e-3)  # CMM alone makes it order-aware


@pytest.mark.parametrize("frames, size", [(8, 32), (16, 48)])
def test_stm_r18_runs_at_8_and_16_frames(frames, size):
    model = vbench.create_model("stm_r50", depth=18, num_classes=3, num_frames=frames).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, frames, size, size)).shape == (1, 3)


def test_one_frame_is_refused_with_one_clear_sentence():
    with pytest.raises(VbenchError, match="STM needs at least 2 frames"):
        vbench.create_model("stm_r18", num_frames=1)


def test_reported_rows_check_stm_at_8_and_16_frames():
    checked = {(r.frames, r.params_m, r.gflops, r.num_classes) for r in rows_for("stm_r50") if r.checked}
    assert checked == {("8", "24.0", "33.3", "174"), ("16", "24.0", "66.5", "174")}
