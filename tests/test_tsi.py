import pytest
import torch
import torchvision
from torch.nn import functional as F

import vbench
from vbench.errors import InputShapeError, VbenchError
from vbench.models.modules.tsi import (
    CrossPerceptionTemporalIntegration,
    SalientMotionExcitation,
    TemporalSaliencyIntegration,
)
from vbench.models.modules.shift import temporal_shift
from vbench.profiling.flops import count_flops
from vbench.reporting.reported import rows_for


def _randomise(module, std=0.5):
    """Random weights and BN statistics, so no property below holds by initialisation."""
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, std)
        for m in module.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.normal_(0, 1)
                m.running_var.uniform_(0.5, 2)
    return module.eval()


def _static(n, t, c, h, w):
    """A clip whose T frames are the same image, folded: (N*T, C, H, W)."""
    return torch.randn(n, 1, c, h, w).expand(n, t, c, h, w).reshape(n * t, c, h, w).clone()


# SME -------------------------------------------------------------------------------

def test_sme_gives_zero_motion_and_passes_a_static_clip_unchanged():
    sme = _randomise(SalientMotionExcitation(32, num_frames=4))
    x = _static(2, 4, 32, 7, 7)
    with torch.no_grad():
        assert torch.equal(sme.motion(x), torch.zeros(2 * 3, 2, 7, 7))
        assert torch.equal(sme(x), x)
        moving = x + 0.5 * torch.randn_like(x)
        assert (sme(moving) - moving).abs().max() > 1e-2  # the same module does excite motion


def test_sme_motion_of_a_frame_comes_from_its_next_frame_and_the_last_frame_passes():
    sme = _randomise(SalientMotionExcitation(16, num_frames=4))
    x = _static(1, 4, 16, 6, 6)
    x.view(1, 4, 16, 6, 6)[:, 2] += torch.randn(16, 6, 6)  # only frame 2 changes
    with torch.no_grad():
        out = sme(x).view(4, 16, 6, 6)
    frames = x.view(4, 16, 6, 6)
    assert torch.equal(out[0], frames[0])  # frames 0 and 1 are equal: no motion
    assert not torch.allclose(out[1], frames[1]) and not torch.allclose(out[2], frames[2])  # 1->2 and 2->3
    assert torch.equal(out[3], frames[3])  # the last frame has no next frame


# CTI -------------------------------------------------------------------------------

def _cti_branch_by_branch(cti, x):
    """The literal reading: separate channel-wise temporal convs, SK attention, weighted sum."""
    nt, c, h, w = x.shape
    t = cti.num_frames
    series = x.view(nt // t, t, c, h * w).permute(0, 2, 1, 3)  # (N, C, T, P)
    outputs, start = [], 0
    for size in cti.kernel_sizes:
        weight = cti.weight[:, start:start + size].reshape(c, 1, size, 1)
        outputs.append(F.conv2d(series, weight, padding=(size // 2, 0), groups=c))
        start += size
    branches = torch.stack(outputs, 1)  # (N, K, C, T, P)
    z = branches.sum(1).mean((2, 3))
    attention = cti.select(F.relu(cti.squeeze(z))).view(-1, len(cti.kernel_sizes), c).softmax(1)
    out = (branches * attention[..., None, None]).sum(1)
    return out.permute(0, 2, 1, 3).reshape(nt, c, h, w)


@pytest.mark.parametrize("kernel_sizes", [(3, 5, 7), (1, 3), (5,)])
def test_cti_fused_kernel_equals_the_separate_branches(kernel_sizes):
    cti = _randomise(CrossPerceptionTemporalIntegration(24, num_frames=5, kernel_sizes=kernel_sizes))
    x = torch.randn(2 * 5, 24, 4, 3)
    with torch.no_grad():
        assert torch.allclose(cti(x), _cti_branch_by_branch(cti, x), atol=1e-5)


def test_cti_attention_over_perceptions_sums_to_one_and_depends_on_the_clip():
    cti = _randomise(CrossPerceptionTemporalIntegration(40, num_frames=6))
    pooled = torch.randn(3, 40, 6)
    with torch.no_grad():
        attention = cti.attention(pooled, cti.branch_kernels())
    assert attention.shape == (3, 40, 3)
    assert (attention > 0).all() and torch.allclose(attention.sum(-1), torch.ones(3, 40))
    assert not torch.allclose(attention[0], attention[1], atol=1e-3)


def test_cti_starts_as_tsm_shift_and_mixes_frames_once_trained():
    cti = CrossPerceptionTemporalIntegration(16, num_frames=4).eval()
    x = torch.randn(8, 16, 5, 5)
    with torch.no_grad():
        assert torch.allclose(cti(x), temporal_shift(x, 4, fold_div=8), atol=1e-5)
        _randomise(cti)
        out = cti(x).view(2, 4, 16, 5, 5)
        x2 = x.view(2, 4, 16, 5, 5).clone()
        x2[:, 0] += 1.0  # changing frame 0 changes the output at frames 0..3 (kernel 7 reaches them)
        out2 = cti(x2.view(8, 16, 5, 5)).view(2, 4, 16, 5, 5)
    assert all(not torch.allclose(out[:, f], out2[:, f]) for f in range(4))


def test_cti_refuses_even_kernel_sizes():
    with pytest.raises(VbenchError, match="odd"):
        CrossPerceptionTemporalIntegration(8, num_frames=4, kernel_sizes=(3, 4))


# the model -------------------------------------------------------------------------

def test_tsi_has_a_tsi_block_before_the_spatial_conv_of_every_block():
    model = vbench.create_model("tsi_r50", num_frames=2)
    blocks = [b for layer in (model.layer1, model.layer2, model.layer3, model.layer4) for b in layer]
    assert len(blocks) == 16 and all(isinstance(b.mid, TemporalSaliencyIntegration) for b in blocks)
    assert [b.mid.cti.channels for b in blocks] == [64] * 3 + [128] * 4 + [256] * 6 + [512] * 3


def test_tsi_output_changes_when_frame_order_is_reversed():
    model = vbench.create_model("tsi_r18", num_classes=5, num_frames=4).eval()
    for block in model.modules():
        if isinstance(block, TemporalSaliencyIntegration):
            _randomise(block)
    torch.nn.init.normal_(model.head.fc.weight)
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        logits = model(x)
        assert not torch.allclose(logits, model(x.flip(2)), atol=1e-4)
        static = x[:, :, :1].expand_as(x).contiguous()
        assert torch.allclose(model(static), model(static.flip(2)), atol=1e-6)  # sanity: same clip


@pytest.mark.parametrize("frames", [8, 16])
def test_tsi_works_at_depth_18_with_8_and_16_frames(frames):
    model = vbench.create_model("tsi_r18", num_classes=7, num_frames=frames).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, frames, 32, 32))
    assert out.shape == (1, 7) and torch.isfinite(out).all()


def test_tsi_trains_at_batch_1_and_every_tsi_parameter_gets_a_gradient():
    model = vbench.create_model("tsi_r18", num_classes=3, num_frames=4).train()
    model(torch.randn(1, 3, 4, 32, 32)).sum().backward()
    missing = [name for name, p in model.named_parameters() if ".mid." in name and p.grad is None]
    assert missing == []


def test_one_frame_and_a_wrong_frame_count_give_clear_errors():
    with pytest.raises(VbenchError, match="needs at least 2 frames, got num_frames=1"):
        vbench.create_model("tsi_r50", num_frames=1)
    model = vbench.create_model("tsi_r18", num_frames=4)
    with pytest.raises(InputShapeError, match="built for 4 frames but the input has 3"):
        model(torch.randn(1, 3, 3, 32, 32))


def test_imagenet_trunk_loads_under_torchvision_keys(tmp_path):
    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path / "r18.pth"
    torch.save(reference.state_dict(), path)
    model = vbench.create_model("tsi_r18", num_frames=2, pretrained=str(path))
    for key, value in reference.state_dict().items():
        if not key.startswith("fc."):
            assert torch.equal(model.state_dict()[key], value), key


def test_every_op_of_tsi_is_counted():
    flops = count_flops(vbench.create_model("tsi_r18", num_frames=4), torch.randn(1, 3, 4, 64, 64), audit=False)
    assert flops.uncounted == {}


def test_cti_macs_match_the_analytic_count():
    n, t, c, p, span, k = 2, 5, 24, 12, 7, 3
    cti = CrossPerceptionTemporalIntegration(c, num_frames=t)
    flops = count_flops(cti, torch.randn(n * t, c, 4, 3), audit=False)
    temporal_mixing = n * c * t * t * p  # the band matrix applied to every position: T MACs per output
    small = (c * (3 + 5 + 7) * k * span  # branch kernels placed
             + c * span * t * t + n * c * t  # attention input: frame weights, z
             + n * c * k * span + n * c * span * t * t)  # fused kernel, its band matrix
    hidden = 32
    assert flops.by_operator == {"einsum": temporal_mixing + small, "linear": n * (c * hidden + hidden * k * c)}


def test_tsi_is_registered_and_tabled_as_a_reconstruction():
    info = vbench.model_info("tsi_r50")
    assert info.reconstruction and info.arxiv == "2106.01088" and 18 in info.depths
    rows = rows_for("tsi_r50")
    assert rows and all(r.reconstruction == "yes" and not r.checked and r.status == "unverified" for r in rows)
    assert all(r.params_m == "" and r.gflops == "" and "not reported / not found" in r.note for r in rows)
