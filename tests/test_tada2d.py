import pytest
import torch
from torch import nn
from torch.nn import functional as F

import vbench
from vbench.errors import InputShapeError, VbenchError
from vbench.models import load_checkpoint
from vbench.models.modules.tada import TAdaConv2d, TemporalAggregationNorm, temporal_avg_pool
from vbench.profiling.flops import count_flops


def _perturb_temporal_parts(model: nn.Module) -> None:
    """Give the zero-initialised calibration and aggregation weights values, as training would."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, TAdaConv2d):
                weight = module.calibration.b.weight
                weight.copy_(0.3 * torch.randn(weight.shape, generator=generator))
            if isinstance(module, TemporalAggregationNorm):
                module.pool_bn.weight.copy_(torch.randn(module.pool_bn.weight.shape, generator=generator))


def _per_frame_reference(conv: TAdaConv2d, x: torch.Tensor) -> torch.Tensor:
    """The paper's definition: frame t convolved with its own kernel alpha_t * W (input channels)."""
    alpha = conv.calibration(x)
    frames = [F.conv2d(x[i:i + 1], conv.weight * alpha[i][None, :, None, None], stride=conv.stride, padding=1)
              for i in range(x.shape[0])]
    return torch.cat(frames)


@pytest.mark.parametrize("stride", [1, 2])
def test_tadaconv_equals_per_frame_calibrated_kernels(stride):
    conv = TAdaConv2d(16, 24, 3, stride, num_frames=4).eval()
    _perturb_temporal_parts(conv)
    x = torch.randn(2 * 4, 16, 9, 9)
    alpha = conv.calibration(x)
    assert alpha.shape == (8, 16) and not torch.allclose(alpha, torch.ones_like(alpha))
    with torch.no_grad():
        assert torch.allclose(conv(x), _per_frame_reference(conv, x), atol=1e-5)


def test_calibration_starts_as_identity():
    conv = TAdaConv2d(16, 16, num_frames=4).eval()
    x = torch.randn(8, 16, 6, 6)
    with torch.no_grad():
        assert torch.equal(conv.calibration(x), torch.ones(8, 16))
        assert torch.allclose(conv(x), F.conv2d(x, conv.weight, padding=1), atol=1e-6)


def test_calibration_uses_local_and_global_temporal_context():
    conv = TAdaConv2d(8, 8, num_frames=5).eval()
    _perturb_temporal_parts(conv)
    x = torch.randn(5, 8, 4, 4)
    with torch.no_grad():
        alpha = conv.calibration(x)
        changed = x.clone()
        changed[4] += 1.0  # change the last frame only
        delta = (conv.calibration(changed) - alpha).abs().sum(dim=1)
    # the global (video) descriptor reaches every frame, the kernel-3 convs the neighbours
    assert bool((delta > 0).all())


def test_temporal_avg_pool_matches_avgpool3d():
    n, t, c, h, w = 2, 5, 3, 4, 4
    x = torch.randn(n * t, c, h, w)
    reference = nn.AvgPool3d((3, 1, 1), 1, (1, 0, 0))(x.view(n, t, c, h, w).transpose(1, 2)).transpose(1, 2)
    assert torch.allclose(temporal_avg_pool(x, t), reference.reshape(n * t, c, h, w), atol=1e-6)


def _same_trunk_tsn(depth: int, frames: int) -> nn.Module:
    return vbench.create_model("tsn_r50", depth=depth, num_classes=5, num_frames=frames, head="clip_pool",
                               stem_pool=False, stage_strides=(2, 2, 2, 2)).eval()


@pytest.mark.parametrize("depth", [18, 50])
def test_tada2d_at_init_is_the_plain_2d_network_with_the_same_base_weights(depth):
    frames = 4 if depth == 18 else 2
    tsn = _same_trunk_tsn(depth, frames)
    tada = vbench.create_model("tada2d_r50", depth=depth, num_classes=5, num_frames=frames).eval()
    report = tada.load_state_dict(tsn.state_dict(), strict=False)
    assert not report.unexpected_keys
    assert all(".calibration." in k or ".pool_bn." in k for k in report.missing_keys)
    x = torch.randn(1, 3, frames, 32, 32)
    with torch.no_grad():
        assert torch.allclose(tada(x), tsn(x), atol=1e-5)
        _perturb_temporal_parts(tada)
        assert not torch.allclose(tada(x), tsn(x), atol=1e-3)


def test_tada2d_trunk_has_no_max_pool_and_stride_2_in_every_stage():
    model = vbench.create_model("tada2d_r50", num_frames=2)
    assert isinstance(model.maxpool, nn.Identity)
    firsts = [getattr(model, f"layer{i}")[0] for i in range(1, 5)]
    assert [b.conv2.stride for b in firsts] == [(2, 2)] * 4
    assert [b.downsample[0].stride for b in firsts] == [(2, 2)] * 4
    assert all(b.conv1.stride == (1, 1) for b in firsts)
    assert isinstance(model.layer3[5].conv2, TAdaConv2d) and isinstance(model.layer3[5].bn2, TemporalAggregationNorm)


def test_tada2d_output_depends_on_frame_order():
    model = vbench.create_model("tada2d_r18", num_classes=5, num_frames=4).eval()
    _perturb_temporal_parts(model)
    nn.init.normal_(model.head.fc.weight)
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        assert not torch.allclose(model(x), model(x.flip(2)), atol=1e-4)


def test_tada2d_tells_frame_order_only_through_its_calibration():
    """The aggregation averages neighbouring frames symmetrically: with the calibration inert
    (b = 0, alpha = 1) a clip and the clip played backwards give the same logits, however the
    aggregation is weighted; the calibration's temporal convs over spatially averaged frame
    descriptors are TAda2D's one order-sensitive path (why it stays at chance on the
    synthetic benchmark's directions, README)."""
    model = vbench.create_model("tada2d_r18", num_classes=5, num_frames=4).eval()
    _perturb_temporal_parts(model)
    nn.init.normal_(model.head.fc.weight)
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, TAdaConv2d):
                module.calibration.b.weight.zero_()
        forward, backward = model(x), model(x.flip(2))
        assert torch.allclose(forward, backward, rtol=1e-4, atol=1e-5)
        assert forward.abs().max() > 1e-2  # not equal by being zero


@pytest.mark.parametrize("frames", [8, 16])
def test_tada2d_runs_at_depth_18_with_8_and_16_frames(frames):
    model = vbench.create_model("tada2d_r18", num_classes=7, num_frames=frames).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, frames, 32, 32)).shape == (1, 7)


def test_tada2d_frame_errors_are_clear():
    with pytest.raises(VbenchError, match="at least 2 frames"):
        vbench.create_model("tada2d_r18", num_frames=1)
    model = vbench.create_model("tada2d_r18", num_frames=4)
    with pytest.raises(InputShapeError, match="built for 4 frames"):
        model(torch.randn(1, 3, 8, 32, 32))


def test_flop_count_sees_the_per_frame_conv_and_the_calibration():
    n, t, c, size = 1, 4, 16, 8
    conv = TAdaConv2d(c, c, 3, 1, num_frames=t).eval()
    flops = count_flops(conv, torch.randn(n * t, c, size, size), audit=False)
    spatial = n * t * c * c * 9 * size * size
    calibration = n * c * c + 2 * (n * t * (c // 4) * c * 3)  # g on the video descriptor; a and b over time
    assert flops.by_operator["conv"] == spatial + calibration
    assert flops.by_operator["adaptive_avg_pool2d"] == n * t * c * size * size  # frame descriptors
    assert flops.uncounted == {}


def test_fvcore_counts_the_official_grouped_formulation_the_same():
    """The official code runs one conv with N*T groups over per-frame weights: same MACs."""

    class Grouped(nn.Module):
        def forward(self, x, weight):
            nt, c, h, w = x.shape
            return F.conv2d(x.reshape(1, nt * c, h, w), weight, padding=1, groups=nt)

    t, c, size = 4, 16, 8
    grouped = count_flops(Grouped(), (torch.randn(t, c, size, size), torch.randn(t * c, c, 3, 3)), audit=False)
    plain = count_flops(nn.Conv2d(c, c, 3, padding=1, bias=False), torch.randn(t, c, size, size), audit=False)
    assert grouped.by_operator["conv"] == plain.by_operator["conv"] == t * c * c * 9 * size * size


def _official_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """vbench's tensors under the official TAdaConv names and shapes (BaseVideoModel, ResNet3D,
    Base3DBlock, TAda2DBlock, RouteFuncMLP, BaseHead of alibaba-mmai-research/TAdaConv)."""
    branch = {"conv1": "a", "bn1": "a_bn", "conv2": "b", "bn2": "b_bn", "conv3": "c", "bn3": "c_bn"}
    official = {}
    for key, value in model.state_dict().items():
        value = value.clone()
        parts = key.split(".")
        if parts[0] == "conv1":
            name, value = "backbone.conv1.a." + parts[1], value.unsqueeze(2)  # (64, 3, 1, 7, 7)
        elif parts[0] == "bn1":
            name = "backbone.conv1.a_bn." + parts[1]
        elif parts[0] == "head":
            name = "head.out." + parts[2]
        else:
            stage, block, rest = int(parts[0][-1]) + 1, int(parts[1]) + 1, parts[2:]
            prefix = f"backbone.conv{stage}.res_{block}."
            if rest[0] == "downsample":
                name = prefix + ("short_cut." if rest[1] == "0" else "short_cut_bn.") + rest[2]
                value = value.unsqueeze(2) if rest[1] == "0" else value
            elif rest[:2] == ["conv2", "calibration"]:
                name = prefix + "conv_branch.b_rf." + ".".join(rest[2:])
                value = value[..., None, None] if value.dim() == 3 else value  # Conv3d (k, 1, 1)
            elif rest[:2] == ["bn2", "pool_bn"]:
                name = prefix + "conv_branch.b_avgpool_bn." + rest[2]
            else:
                name = prefix + "conv_branch." + branch[rest[0]] + "." + rest[1]
                if rest[0] == "conv2":
                    value = value[None, None]  # TAdaConv2d base weight (1, 1, out, in, 3, 3)
                elif rest[0].startswith("conv"):
                    value = value.unsqueeze(2)  # 1x1x1 Conv3d
        official[name] = value
    return official


def test_official_tada2d_checkpoint_lands_every_tensor(tmp_path):
    source = vbench.create_model("tada2d_r50", num_classes=11, num_frames=2)
    with torch.no_grad():
        for tensor in source.state_dict().values():
            if tensor.is_floating_point():
                tensor.normal_()
    official = _official_state_dict(source)
    expected_shapes = {
        "backbone.conv1.a.weight": (64, 3, 1, 7, 7),
        "backbone.conv2.res_1.short_cut.weight": (256, 64, 1, 1, 1),
        "backbone.conv2.res_1.conv_branch.b.weight": (1, 1, 64, 64, 3, 3),
        "backbone.conv3.res_2.conv_branch.b_rf.g.weight": (128, 128, 1, 1, 1),
        "backbone.conv4.res_6.conv_branch.b_rf.a.weight": (64, 256, 3, 1, 1),
        "backbone.conv5.res_3.conv_branch.b_rf.b.weight": (512, 128, 3, 1, 1),
        "backbone.conv5.res_3.conv_branch.b_avgpool_bn.running_var": (512,),
        "head.out.weight": (11, 2048),
    }
    for key, shape in expected_shapes.items():
        assert tuple(official[key].shape) == shape, key
    path = tmp_path / "tada2d_8x8_k400.pyth"
    torch.save({"epoch": 100, "model_state": {"module." + k: v for k, v in official.items()}}, path)
    target = vbench.create_model("tada2d_r50", num_classes=11, num_frames=2)
    report = load_checkpoint(target, path)
    assert report.complete and report.loaded == len(source.state_dict())
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key
