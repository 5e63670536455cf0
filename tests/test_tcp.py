import pytest
import torch
from torch import nn

import vbench
from vbench.errors import InputShapeError
from vbench.models import load_checkpoint
from vbench.models.modules.tcp import (
    TCPHead, TemporalAttention, TemporalChannelAttention, TemporalSpatialAttention, covariance, newton_schulz_sqrt)
from vbench.profiling.flops import count_flops


def _spd(batch, dim, low=1.0, high=3.0, dtype=torch.float64):
    """Well-conditioned SPD matrices: random rotations of eigenvalues in [low, high]."""
    q, _ = torch.linalg.qr(torch.randn(batch, dim, dim, dtype=torch.float64))
    eigenvalues = torch.rand(batch, dim, dtype=torch.float64) * (high - low) + low
    return (q @ torch.diag_embed(eigenvalues) @ q.transpose(1, 2)).to(dtype)


def _eigen_sqrt(sigma):
    values, vectors = torch.linalg.eigh(sigma.double())
    return vectors @ torch.diag_embed(values.clamp_min(0).sqrt()) @ vectors.transpose(1, 2)


def _relative_error(estimate, reference):
    return ((estimate.double() - reference).norm(dim=(1, 2)) / reference.norm(dim=(1, 2))).max().item()


def test_newton_schulz_square_root_agrees_with_eigendecomposition_in_float32():
    sigma = _spd(4, 16, dtype=torch.float32)
    reference = _eigen_sqrt(sigma)
    errors = [_relative_error(newton_schulz_sqrt(sigma, n), reference) for n in (3, 6, 20)]
    assert errors[0] > errors[1] > errors[2]  # TCP's 3 iterations approximate; more converge
    assert errors[2] < 1e-4
    root = newton_schulz_sqrt(sigma, 20)
    assert torch.allclose(root @ root, sigma, rtol=1e-4, atol=1e-4)


def test_pooling_runs_in_float32_under_bfloat16_autocast():
    """The trunk's bf16 features are pooled and square-rooted in float32 (TCPHead.pool)."""
    head = TCPHead(16, 5, 2, dim=8, iterations=20).eval()
    features = torch.randn(2 * 2, 8, 6, 6).to(torch.bfloat16)  # 2 clips of 2 frames, M = 72 >> d
    with torch.autocast("cpu", dtype=torch.bfloat16):
        pooled = head.pool(features)
    assert pooled.dtype == torch.float32
    clips = features.double().view(2, 2, 8, 36).transpose(1, 2).reshape(2, 8, 72)
    reference = _eigen_sqrt(covariance(clips))
    upper = reference.flatten(1)[:, head.upper]
    assert ((pooled.double() - upper).norm(dim=1) / upper.norm(dim=1)).max() < 1e-4


def test_covariance_equals_the_official_centring_matrix_form():
    x = torch.randn(3, 6, 40, dtype=torch.float64)
    m = x.shape[2]
    i_hat = torch.eye(m, dtype=torch.float64) / m - torch.ones(m, m, dtype=torch.float64) / m / m
    assert torch.allclose(covariance(x), x @ i_hat @ x.transpose(1, 2), atol=1e-12)


def test_a_constant_clip_gives_no_nan_forward_or_backward():
    model = vbench.create_model("tcp_tsn_r18", num_classes=3, num_frames=4)
    model.train()
    clip = torch.full((2, 3, 4, 32, 32), 0.7, requires_grad=True)
    model(clip).sum().backward()
    assert torch.isfinite(clip.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    head = TCPHead(8, 3, 2, dim=4).eval()
    zeros = torch.zeros(4, 4, 3, 3, requires_grad=True)  # zero covariance: trace 0
    pooled = head.pool(zeros)
    pooled.sum().backward()
    assert torch.equal(pooled, torch.zeros_like(pooled)) and torch.isfinite(zeros.grad).all()


def _randomize_attention(module):
    for name, p in module.named_parameters():
        if "attention" in name or isinstance(module, TemporalAttention):
            nn.init.normal_(p, 0.0, 0.2)


def test_attention_is_the_identity_at_initialisation_so_the_head_starts_orderless():
    head = TCPHead(32, 6, 4, dim=8).eval()
    x = torch.relu(torch.randn(4, 8, 5, 5))
    with torch.no_grad():
        assert torch.allclose(head.attention(x), x, atol=1e-6)
        features = torch.randn(2 * 4, 32, 5, 5)
        permuted = features.view(2, 4, 32, 5, 5)[:, [2, 0, 3, 1]].reshape(8, 32, 5, 5)
        assert torch.allclose(head(features), head(permuted), atol=1e-6)


def test_trained_attention_makes_the_clip_representation_depend_on_frame_order():
    model = vbench.create_model("tcp_tsn_r18", num_classes=5, num_frames=4).eval()
    nn.init.normal_(model.head.fc.weight)
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(x), model(x.flip(2)), atol=1e-4)  # identity attention: orderless
        _randomize_attention(model.head)
        assert not torch.allclose(model(x), model(x.flip(2)), atol=1e-3)


def test_spatial_attention_looks_back_only():
    tsa = TemporalSpatialAttention(6, 4).eval()
    for p in tsa.parameters():
        nn.init.normal_(p, 0.0, 0.5)
    x = torch.randn(2 * 4, 6, 3, 3)
    changed = x.clone().view(2, 4, 6, 3, 3)
    changed[:, 3] += 1.0  # the last frame: no earlier frame may see it
    with torch.no_grad():
        before, after = tsa(x).view(2, 4, 6, 3, 3), tsa(changed.view(8, 6, 3, 3)).view(2, 4, 6, 3, 3)
    assert torch.allclose(before[:, :3], after[:, :3], atol=1e-6) and not torch.allclose(before[:, 3], after[:, 3])


def test_channel_attention_sees_no_motion_in_a_static_clip():
    tca = TemporalChannelAttention(6, 4).eval()
    for p in tca.parameters():
        nn.init.normal_(p)
    frame = torch.randn(2, 1, 6, 3, 3)
    static = frame.expand(2, 4, 6, 3, 3).reshape(8, 6, 3, 3)
    calibrated = torch.randn(8, 6, 3, 3)
    # zero differences: every gate is sigmoid(fc2(relu(bias1)) + bias2), the same for all frames
    zero_gate = torch.sigmoid(tca.fc2(torch.relu(tca.fc1(torch.zeros(1, 6, 1, 1)))))
    with torch.no_grad():
        assert torch.allclose(tca(static, calibrated), calibrated * zero_gate, atol=1e-6)
        moving = static + torch.arange(4.0).repeat(2).view(8, 1, 1, 1)
        assert not torch.allclose(tca(moving, calibrated), calibrated * zero_gate, atol=1e-3)


@pytest.mark.parametrize("frames", [2, 3, 4, 6, 8, 16])
def test_temporal_conv_keeps_the_clip_length_and_wraps_around(frames):
    attention = TemporalAttention(1, frames, spatial=False, channel=False).eval()
    k = frames // 2 + 1
    assert attention.temporal_conv.kernel_size == (k, 1, 1)
    weights = torch.randn(k)
    with torch.no_grad():
        attention.temporal_conv.weight.copy_(weights.view(1, 1, k, 1, 1))
        attention.temporal_conv.bias.zero_()
        x = torch.randn(frames, 1, 2, 2)
        out = attention(x)
    # torch < 1.5 circular padding of the official conv: k//2 frames before, (k-1)//2 after
    mixed = sum(weights[j] * torch.roll(x, k // 2 - j, dims=0) for j in range(k))
    assert torch.allclose(out, torch.relu(x + mixed), atol=1e-5)


def test_head_flops_match_the_analytic_formula():
    n, t, c, d, h, w, iterations = 2, 4, 16, 8, 3, 5, 3
    head = TCPHead(c, 10, t, dim=d, inner_dim=12, iterations=iterations)
    count = count_flops(head, torch.randn(n * t, c, h, w))
    m, positions = t * h * w, h * w
    # covariance d x d over M positions a clip, and 3*iterations - 3 products of d x d matrices
    assert count.by_operator["bmm"] + count.by_operator["baddbmm"] == n * (d * d * m + (3 * iterations - 3) * d ** 3)
    assert count.by_operator["scaled_dot_product_attention"] == n * t * positions * positions * 2 * d
    k = t // 2 + 1
    convs = n * t * positions * (c * 12 + 12 * d + 3 * d * d + k * d * d) + 2 * n * t * 2 * (d * 4 * d)
    assert count.by_operator["conv"] == convs
    assert count.by_operator["linear"] == n * d * (d + 1) // 2 * 10
    assert count.uncounted == {}
    pooling = count.by_operator["adaptive_avg_pool2d"]
    assert count.dispatch_macs == count.macs - count.by_operator["batch_norm"] - pooling


def test_layer4_runs_at_stride_1_and_any_trunk_model_takes_the_head():
    tcp = vbench.create_model("tcp_tsn_r18", num_frames=2)
    assert tcp.layer4[0].conv1.stride == (1, 1) and isinstance(tcp.head, TCPHead)
    assert tcp.forward_features(torch.randn(1, 3, 2, 64, 64)).shape == (1, 512, 2, 4, 4)
    tsm = vbench.create_model("tsm_r18", head="tcp", num_frames=4, head_options={"dim": 16})
    assert isinstance(tsm.head, TCPHead) and tsm.head.fc.in_features == 16 * 17 // 2
    assert tsm.layer4[0].conv1.stride == (2, 2)  # the model's own trunk
    with torch.no_grad():
        assert tsm.eval()(torch.randn(1, 3, 4, 32, 32)).shape == (1, 400)


@pytest.mark.parametrize("name", ["tcp_tsn_r18", "tcp_tsm_r18"])
@pytest.mark.parametrize("frames", [8, 16])
def test_runs_at_8_and_16_frames(name, frames):
    model = vbench.create_model(name, num_classes=7, num_frames=frames).eval()
    assert model.head.attention.kernel == frames // 2 + 1
    with torch.no_grad():
        assert model(torch.randn(1, 3, frames, 32, 32)).shape == (1, 7)
    with pytest.raises(InputShapeError, match=f"built for {frames} frames"):
        model(torch.randn(1, 3, frames // 2, 32, 32))


# The official head's parameters (ops/TCP/*.py, ops/models.py) at 2048 channels, d = 128, 8 frames.
OFFICIAL_HEAD_SHAPES = {
    "layer_reduce1.weight": (256, 2048, 1, 1), "layer_reduce_bn1.weight": (256,), "layer_reduce_bn1.bias": (256,),
    "layer_reduce2.weight": (128, 256, 1, 1), "layer_reduce_bn2.weight": (128,), "layer_reduce_bn2.bias": (128,),
    "TCP_att.TCA.g1.weight": (512, 128, 1, 1), "TCP_att.TCA.g1.bias": (512,),
    "TCP_att.TCA.g2.weight": (128, 512, 1, 1), "TCP_att.TCA.g2.bias": (128,),
    "TCP_att.conv_1d.weight": (128, 128, 5, 1, 1), "TCP_att.conv_1d.bias": (128,),
    **{f"TCP_att.TSA.{conv}.{p}": shape for conv in ("conv_phi_1", "conv_phi_2", "conv_phi0")
       for p, shape in (("weight", (128, 128, 1, 1)), ("bias", (128,)))},
    "TCP_att.TSA.norm.weight": (128,), "TCP_att.TSA.norm.bias": (128,),
}


def test_params_are_the_official_constructions():
    head = sum(torch.Size(s).numel() for s in OFFICIAL_HEAD_SHAPES.values())
    new_fc = 8256 * 400 + 400
    resnet50_trunk = 25_557_032 - (2048 * 1000 + 1000)
    for name in ("tcp_tsn_r50", "tcp_tsm_r50"):
        assert sum(p.numel() for p in vbench.create_model(name).parameters()) == resnet50_trunk + head + new_fc
    assert head + new_fc == 4_124_176


# vbench head keys -> the official code's, written from ops/TCP/*.py (new style) and
# ops/keys_mapping.py (old style, ``layer4.iSQRT.`` with ``att_module`` names).
NEW_STYLE = {
    "reduce.0.": "layer_reduce1.", "reduce.1.": "layer_reduce_bn1.", "reduce.3.": "layer_reduce2.",
    "reduce.4.": "layer_reduce_bn2.", "attention.spatial.query.": "TCP_att.TSA.conv_phi_1.",
    "attention.spatial.key.": "TCP_att.TSA.conv_phi_2.", "attention.spatial.value.": "TCP_att.TSA.conv_phi0.",
    "attention.spatial.norm.": "TCP_att.TSA.norm.", "attention.channel.fc1.": "TCP_att.TCA.g1.",
    "attention.channel.fc2.": "TCP_att.TCA.g2.", "attention.temporal_conv.": "TCP_att.conv_1d.",
}
OLD_STYLE = {
    "TCP_att.TCA.g1.": "att_module.conv_1.", "TCP_att.TCA.g2.": "att_module.conv_2.",
    "TCP_att.TSA.conv_phi_1.": "att_module.sp_att.conv_theta.", "TCP_att.TSA.conv_phi_2.": "att_module.sp_att.conv_phi.",
    "TCP_att.TSA.conv_phi0.": "att_module.sp_att.conv_g.", "TCP_att.TSA.norm.": "att_module.sp_att.norm.",
    "TCP_att.conv_1d.": "att_module.conv_1d.",
}


def _official_tcp_state_dict(model, *, tsm: bool, old_style: bool):
    official = {}
    for key, value in model.state_dict().items():
        if key.startswith("head.fc."):
            official["module.new_fc." + key.removeprefix("head.fc.")] = value.clone()
            continue
        if key.startswith("head."):
            key = key.removeprefix("head.")
            prefix = next(p for p in NEW_STYLE if key.startswith(p))
            key = NEW_STYLE[prefix] + key[len(prefix):]
            if old_style:
                prefix = next((p for p in OLD_STYLE if key.startswith(p)), "")
                key = (OLD_STYLE[prefix] + key[len(prefix):]) if prefix else key
                official["module.base_model.layer4.iSQRT." + key] = value.clone()
            else:
                official["module.base_model.TCP." + key] = value.clone()
            continue
        parts = key.split(".")
        if tsm and len(parts) > 3 and parts[0].startswith("layer") and parts[2] == "conv1":
            key = ".".join(parts[:3] + ["net"] + parts[3:])
        official["module.base_model." + key] = value.clone()
    return official


@pytest.mark.parametrize("name, tsm, old_style", [("tcp_tsn_r18", False, False), ("tcp_tsm_r18", True, False),
                                                  ("tcp_tsn_r18", False, True)])
def test_official_tcp_checkpoint_lands_every_tensor(tmp_path, name, tsm, old_style):
    source = vbench.create_model(name, num_classes=11, num_frames=8)
    for p in source.parameters():
        nn.init.normal_(p)
    official = _official_tcp_state_dict(source, tsm=tsm, old_style=old_style)
    head_key = "module.base_model.layer4.iSQRT.att_module.sp_att.conv_theta.weight" if old_style else \
        "module.base_model.TCP.TCP_att.TSA.conv_phi_1.weight"
    assert head_key in official and "module.new_fc.weight" in official
    assert ("module.base_model.layer1.0.conv1.net.weight" in official) == tsm
    path = tmp_path / "K400_TCP_8f.pth.tar"
    torch.save({"epoch": 50, "state_dict": official, "best_prec1": 72.4}, path)
    target = vbench.create_model(name, num_classes=11, num_frames=8)
    report = load_checkpoint(target, path)
    assert report.complete and report.loaded == len(source.state_dict())
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key
