import pytest
import torch
from torch import nn
from torch.nn import functional as F

import vbench
from vbench.errors import VbenchError
from vbench.models import load_checkpoint
from vbench.models.modules.channelwise import ChannelwiseTemporalConv, channelwise_temporal_conv
from vbench.models.modules.tea import MotionExcitation, MultipleTemporalAggregation
from vbench.profiling.flops import count_flops
from vbench.reporting.reported import rows_for


def conv1d_reference(x, weight, num_frames):
    """The official ShiftModule: Conv1d(groups=C) over time on a (N*H*W, C, T) view."""
    nt, c, h, w = x.shape
    y = x.view(-1, num_frames, c, h, w).permute(0, 3, 4, 2, 1).reshape(-1, c, num_frames)
    y = F.conv1d(y, weight, padding=1, groups=c)
    return y.view(-1, h, w, c, num_frames).permute(0, 4, 3, 1, 2).reshape(nt, c, h, w)


def reverse_frames(x):
    return x.flip(2)


def static_clip(frames, channels=8, size=6, batch=2):
    return torch.randn(batch, 1, channels, size, size).expand(batch, frames, channels, size, size).reshape(
        batch * frames, channels, size, size)


def loud_head(model):
    nn.init.normal_(model.head.fc.weight)  # the N(0, 0.001) start would hide differences
    return model


def test_channelwise_temporal_conv_is_the_official_conv1d():
    x, weight = torch.randn(2 * 5, 6, 3, 4), torch.randn(6, 1, 3)
    assert torch.allclose(channelwise_temporal_conv(x, weight, 5), conv1d_reference(x, weight, 5), atol=1e-6)


def test_channelwise_temporal_conv_multiply_adds_are_counted_as_elementwise_ops():
    n, t, c, h, w = 1, 4, 6, 5, 5
    count = count_flops(ChannelwiseTemporalConv(c, t), torch.randn(n * t, c, h, w))
    assert count.uncounted == {} and count.macs == 0
    assert count.elementwise_ops == n * c * h * w * (t + 2 * (t - 1))  # one multiply, two shifted multiply-adds


def test_me_motion_is_the_mean_of_k_x_next_minus_x():
    me = MotionExcitation(32, num_frames=4).eval()
    x = torch.randn(2 * 4, 32, 5, 5)
    with torch.no_grad():
        squeezed = me.bn1(me.conv1(x)).view(2, 4, 2, 5, 5)
        moved = me.conv2(squeezed.flatten(0, 1)).view(2, 4, 2, 5, 5)
        expected = torch.zeros(2, 4, 2)
        expected[:, :-1] = (moved[:, 1:] - squeezed[:, :-1]).mean((-1, -2))  # the official order: subtract, then pool
        assert torch.allclose(me.motion(x).view(2, 4, 2), expected, atol=1e-5)
        gate = torch.sigmoid(me.bn3(me.conv3(expected.view(8, 2, 1, 1)))) - 0.5
        assert torch.allclose(me(x), x + x * gate, atol=1e-5)


def test_me_sees_no_motion_in_a_static_clip_and_then_passes_it_through():
    me = MotionExcitation(32, num_frames=4).eval()
    x = static_clip(4, channels=32)
    with torch.no_grad():
        # a learnt K: the "motion" of a static clip is (K - I) X, the same at every step but the last
        motion = me.motion(x).view(2, 4, -1)
        assert torch.allclose(motion[:, :-1], motion[:, :1].expand_as(motion[:, :-1]), atol=1e-6)
        assert motion[:, -1].abs().max() == 0 and motion[:, 0].abs().max() > 1e-3
        nn.init.dirac_(me.conv2.weight, groups=me.conv2.groups)  # K = identity: motion is exactly the difference
        assert me.motion(x).abs().max() < 1e-6
        assert torch.allclose(me(x), x, atol=1e-6)  # zero motion: sigmoid(0) - 0.5 = 0, no excitation
        moving = x.view(2, 4, 32, 6, 6).clone()
        moving[:, 2] += 1.0
        assert me.motion(moving.view(8, 32, 6, 6)).view(2, 4, -1)[:, 1:3].abs().max() > 1e-3


def test_mta_hierarchy_passes_the_last_fragment_through_its_temporal_conv():
    mta = MultipleTemporalAggregation(16, 16, num_frames=4).eval()
    x = torch.randn(2 * 4, 16, 5, 5)
    with torch.no_grad():
        out = mta(x)
        parts = x.split(4, 1)
        first = F.relu(mta.bns[0](mta.convs[0](parts[0])))  # temporal conv 0 starts as the identity
        second = F.relu(mta.bns[1](mta.convs[1](parts[1] + first)))
        assert torch.allclose(out[:, :4], first, atol=1e-5) and torch.allclose(out[:, 4:8], second, atol=1e-5)
        shifted = conv1d_reference(parts[3], mta.temporal[3].weight, 4)
        assert torch.allclose(out[:, 12:], shifted, atol=1e-6)
    # the last fragment's temporal conv starts as a shift: half from t+1, half from t-1
    assert mta.temporal[3].weight[:2, 0].tolist() == [[0, 0, 1]] * 2
    assert mta.temporal[3].weight[2:, 0].tolist() == [[1, 0, 0]] * 2
    assert all(t.weight[:, 0].tolist() == [[0, 1, 0]] * 4 for t in mta.temporal[:3])


def test_mta_stage_first_block_has_no_hierarchy_and_pools_the_last_fragment():
    mta = MultipleTemporalAggregation(16, 16, num_frames=2, stride=2, stage_first=True).eval()
    x = torch.randn(2 * 2, 16, 6, 6)
    with torch.no_grad():
        out = mta(x)
        parts = x.split(4, 1)
        second = F.relu(mta.bns[1](mta.convs[1](parts[1])))  # no chaining from the first fragment
        assert out.shape == (4, 16, 3, 3) and torch.allclose(out[:, 4:8], second, atol=1e-5)
        last = F.avg_pool2d(conv1d_reference(parts[3], mta.temporal[3].weight, 2), 3, 2, 1)
        assert torch.allclose(out[:, 12:], last, atol=1e-6)


def _official_key(key: str) -> str:
    """vbench -> official TEA names, written from ops/tea50_8f.py and ops/models.py."""
    if key.startswith("head.fc."):
        return "module.new_fc." + key.removeprefix("head.fc.")
    key = key.replace(".mid.", ".me.").replace(".conv2.convs.", ".convs.").replace(".conv2.bns.", ".bns.")
    if ".conv2.temporal." in key:
        block, index = key.split(".conv2.temporal.")
        key = f"{block}.shifts.{index.removesuffix('.weight')}.conv.weight"
    return "module.base_model." + key


def test_official_tea_checkpoint_lands_every_tensor(tmp_path):
    source = vbench.create_model("tea_r50", num_classes=7, num_frames=8)
    for p in source.parameters():
        nn.init.normal_(p)
    official = {_official_key(k): v.clone() for k, v in source.state_dict().items()}
    block = {k.removeprefix("module.base_model.layer2.0.") for k in official if k.startswith("module.base_model.layer2.0.")}
    assert block == {  # the parameters and buffers of one official Bottle2neckShift (stype='stage')
        *(f"{m}.{p}" for m in ("conv1", "conv3", "me.conv1", "me.conv2", "me.conv3") for p in ["weight"]),
        *(f"{m}.{p}" for m in ("bn1", "bn3", "me.bn1", "me.bn3", "downsample.1", "bns.0", "bns.1", "bns.2")
          for p in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")),
        "convs.0.weight", "convs.1.weight", "convs.2.weight", "downsample.0.weight",
        *(f"shifts.{i}.conv.weight" for i in range(4)),
    }
    assert official["module.base_model.layer2.0.shifts.3.conv.weight"].shape == (52, 1, 3)
    assert official["module.base_model.layer2.0.me.conv2.weight"].shape == (13, 1, 3, 3)
    path = tmp_path / "ckpt.best.pth.tar"  # as the official main.py saves it
    torch.save({"epoch": 50, "arch": "tea50", "state_dict": official, "best_prec1": 48.9}, path)
    target = vbench.create_model("tea_r50", num_classes=7, num_frames=8)
    assert load_checkpoint(target, path).complete
    landed = target.state_dict()
    assert landed.keys() == source.state_dict().keys()
    assert [k for k, v in source.state_dict().items() if not torch.equal(landed[k], v)] == []


def test_res2net_imagenet_weights_initialise_the_trunk(tmp_path):
    source = vbench.create_model("tea_r50", num_frames=2)
    res2net = {_official_key(k).removeprefix("module.base_model."): v for k, v in source.state_dict().items()
               if ".mid." not in k and ".temporal." not in k and not k.startswith("head.")}
    res2net["fc.weight"], res2net["fc.bias"] = torch.randn(1000, 2048), torch.randn(1000)
    path = tmp_path / "res2net50_26w_4s.pth"
    torch.save(res2net, path)
    model = vbench.create_model("tea_r50", num_frames=2, pretrained=str(path))
    assert torch.equal(model.layer3[2].conv2.convs[1].weight, res2net["layer3.2.convs.1.weight"])


def test_tea_is_order_aware_and_each_module_alone_makes_it_so():
    x = torch.randn(2, 3, 4, 32, 32)
    model = loud_head(vbench.create_model("tea_r18", num_classes=5, num_frames=4)).eval()
    with torch.no_grad():
        assert not torch.allclose(model(x), model(reverse_frames(x)), atol=1e-3)
        temporal = [m for m in model.modules() if isinstance(m, ChannelwiseTemporalConv)]
        excitations = [m for m in model.modules() if isinstance(m, MotionExcitation)]
        for t in temporal:
            nn.init.dirac_(t.weight, groups=t.weight.shape[0])  # every temporal conv at the identity
        only_me = model(x), model(reverse_frames(x))
        for e in excitations:
            e.bn3.weight.zero_()  # gate sigmoid(0) - 0.5 = 0 whatever the motion
        assert torch.allclose(model(x), model(reverse_frames(x)), atol=1e-5)  # per-frame network: order-blind
        assert not torch.allclose(*only_me, atol=1e-3)
        temporal[-1].shift_init(from_next=slice(0, 64), from_previous=slice(64, 128))
        assert not torch.allclose(model(x), model(reverse_frames(x)), atol=1e-3)


@pytest.mark.parametrize("frames", [8, 16])
def test_tea_r18_runs_at_8_and_16_frames(frames):
    model = vbench.create_model("tea_r50", depth=18, num_classes=3, num_frames=frames).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, frames, 32, 32)).shape == (1, 3)


def test_tea_r50_is_res2net_50_26w_4s_with_tea_blocks():
    model = vbench.create_model("tea_r50", num_frames=8)
    widths = [model.layer1[0].conv2.width * 4, model.layer2[1].conv2.width * 4, model.layer3[0].conv2.width * 4,
              model.layer4[2].conv2.width * 4]
    assert widths == [104, 208, 416, 832]
    assert [model.layer1[0].mid.conv1.out_channels, model.layer4[0].mid.conv1.out_channels] == [6, 52]
    assert [type(getattr(model, f"layer{i}")[0].conv2.pool) for i in (1, 2, 3, 4)] == [nn.AvgPool2d] * 4
    assert model.layer1[1].conv2.pool is None and model.layer2[0].conv2.convs[2].stride == (2, 2)
    assert isinstance(model.layer1[0].bn2, nn.Identity) and isinstance(model.layer1[0].spatial_act, nn.Identity)


def test_basic_block_tea_convolves_all_fragments_where_the_width_changes():
    model = vbench.create_model("tea_r18", num_frames=2)
    assert len(model.layer1[0].conv1.convs) == 3 and model.layer1[0].conv1.pool is not None
    assert len(model.layer2[0].conv1.convs) == 4 and model.layer2[0].conv1.pool is None
    assert model.layer2[0].conv1.convs[3].in_channels == 16 and model.layer2[0].conv1.convs[3].out_channels == 32


def test_one_frame_is_refused_with_one_clear_sentence():
    with pytest.raises(VbenchError, match="TEA needs at least 2 frames"):
        vbench.create_model("tea_r18", num_frames=1)


def test_reported_rows_check_tea_at_8_and_16_frames():
    checked = {(r.frames, r.gflops, r.flops_counting, r.status_of("gflops"))
               for r in rows_for("tea_r50") if r.checked}
    # the paper's counting is not read (unstated); 70 is twice 35, not a figure read in print (derived)
    assert checked == {("8", "35", "unstated", "unverified"), ("16", "70", "unstated", "derived")}
