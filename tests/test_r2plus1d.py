import pytest
import torch
import torchvision
from torch import nn
from torchvision.models.video.resnet import BasicBlock, R2Plus1dStem, VideoResNet

import vbench
from vbench.errors import CheckpointError, InputShapeError, VbenchError
from vbench.models import load_checkpoint
from vbench.models.resnet3d import Conv2Plus1D, midplanes


def _randomise(model: nn.Module) -> nn.Module:
    """Random weights and BN statistics, scaled so that logits stay of order one."""
    for m in model.modules():
        if isinstance(m, (nn.Conv3d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight)
        if isinstance(m, nn.BatchNorm3d):
            m.weight.data.uniform_(0.2, 0.6)
            m.bias.data.normal_(0, 0.1)
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return model.eval()


class VMZConv2Plus1D(nn.Sequential):
    """VMZ's PyTorch (2+1)D conv (facebookresearch/VMZ pt/vmz/models/utils.py): it ignores
    the mid-plane count torchvision's block hands it and computes M from its own widths."""

    def __init__(self, in_planes, out_planes, midplanes_of_block, stride=1, padding=1):
        mid = (in_planes * out_planes * 3 * 3 * 3) // (in_planes * 3 * 3 + 3 * out_planes)
        super().__init__(
            nn.Conv3d(in_planes, mid, (1, 3, 3), (1, stride, stride), (0, padding, padding), bias=False),
            nn.BatchNorm3d(mid), nn.ReLU(inplace=True),
            nn.Conv3d(mid, out_planes, (3, 1, 1), (stride, 1, 1), (padding, 0, 0), bias=False))

    @staticmethod
    def get_downsample_stride(stride):
        return (stride, stride, stride)


def _vmz_r2plus1d_18() -> nn.Module:
    """VMZ's model definition at depth 18 (its r2plus1d_34 with layers [2, 2, 2, 2]), BN eps 1e-3."""
    model = VideoResNet(BasicBlock, [VMZConv2Plus1D] * 4, [2, 2, 2, 2], R2Plus1dStem, num_classes=400)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm3d):
            m.eps = 1e-3
    return model


def test_midplanes_follow_the_paper_formula():
    # M = floor(t d^2 N_in N_out / (d^2 N_in + t N_out)), t = d = 3
    assert midplanes(64, 64) == 144 and midplanes(64, 128) == 230 and midplanes(128, 128) == 288
    assert midplanes(3, 64) == (27 * 3 * 64) // (27 + 192)


def test_per_conv_and_per_block_midplanes_differ_only_in_the_first_block_second_conv():
    paper = vbench.create_model("r2plus1d_r18")
    torchvision_like = vbench.create_model("r2plus1d_r18", midplanes="per_block")
    assert paper.layer2[0].conv1[0][0].out_channels == torchvision_like.layer2[0].conv1[0][0].out_channels == 230
    assert paper.layer2[0].conv2[0][0].out_channels == 288  # M(128, 128): the conv's own widths
    assert torchvision_like.layer2[0].conv2[0][0].out_channels == 230  # M(64, 128): the block's
    assert paper.layer2[1].conv2[0][0].out_channels == torchvision_like.layer2[1].conv2[0][0].out_channels == 288
    assert sum(p.numel() for p in paper.parameters()) == 33_370_839  # R3D-18's 33.37M (VMZ: 33.3M)
    assert sum(p.numel() for p in torchvision_like.parameters()) == 31_505_325  # torchvision's num_params
    assert paper.stem[1].eps == 1e-3 and torchvision_like.stem[1].eps == 1e-5


def test_per_block_variant_reproduces_torchvision_r2plus1d_18(tmp_path):
    reference = _randomise(torchvision.models.video.r2plus1d_18(weights=None))
    path = tmp_path / "r2plus1d_18.pth"
    torch.save(reference.state_dict(), path)
    model = vbench.create_model("r2plus1d_r18", midplanes="per_block").eval()
    report = load_checkpoint(model, path)
    assert report.complete and report.loaded == len(reference.state_dict())
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        expected, got = reference(x), model(x)
    assert expected.abs().max() > 0.1
    assert (expected - got).abs().max() < 1e-5


def test_default_loads_a_vmz_state_dict_with_per_conv_shapes(tmp_path):
    official = _randomise(_vmz_r2plus1d_18())
    state = official.state_dict()
    assert tuple(state["layer2.0.conv2.0.0.weight"].shape) == (288, 128, 1, 3, 3)  # per conv
    path = tmp_path / "vmz_r2plus1d_18.pth"
    torch.save({"state_dict": {"module." + k: v for k, v in state.items()}}, path)
    model = vbench.create_model("r2plus1d_r18").eval()
    report = load_checkpoint(model, path)
    assert report.complete
    own = model.state_dict()
    for key, value in state.items():
        assert torch.equal(own[key], value), key
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        assert (official(x) - model(x)).abs().max() < 1e-5
    # torchvision's per-block state dict does not fit the paper's layout
    with pytest.raises(CheckpointError, match="of another shape"):
        tv = tmp_path / "tv.pth"
        torch.save(torchvision.models.video.r2plus1d_18(weights=None).state_dict(), tv)
        load_checkpoint(vbench.create_model("r2plus1d_r18"), tv)


def test_temporal_conv_with_a_delta_kernel_passes_or_shifts_frames():
    conv = Conv2Plus1D(4, 4, mid=4, bn_eps=0.0).eval()
    spatial, temporal = conv[0], conv[3]
    with torch.no_grad():
        spatial.weight.zero_()
        spatial.weight[:, :, 0, 1, 1] = torch.eye(4)  # 1x3x3 identity (centre tap)
        temporal.weight.zero_()
        temporal.weight[:, :, 1, 0, 0] = torch.eye(4)  # 3x1x1 delta at the centre: frames pass
        x = torch.rand(1, 4, 5, 6, 6)  # positive, so the ReLU between the convs passes it
        assert torch.allclose(conv(x), x, atol=1e-6)
        temporal.weight.zero_()
        temporal.weight[:, :, 0, 0, 0] = torch.eye(4)  # delta at tap 0: frame t sees frame t-1
        out = conv(x)
    assert torch.allclose(out[:, :, 1:], x[:, :, :-1], atol=1e-6) and torch.equal(out[:, :, 0], torch.zeros_like(out[:, :, 0]))


@pytest.mark.parametrize("name", ["r2plus1d_r18", "tv_r2plus1d_18"])
def test_output_depends_on_frame_order(name):
    model = _randomise(vbench.create_model(name, num_classes=5))
    x = torch.randn(1, 3, 8, 32, 32)
    with torch.no_grad():
        assert not torch.allclose(model(x), model(x.flip(2)), atol=1e-4)


def test_any_frame_count_and_size_runs():
    model = vbench.create_model("r2plus1d_r18", num_classes=3).eval()
    for frames, size in [(8, 16), (16, 16), (1, 17), (5, 24)]:
        with torch.no_grad():
            assert model(torch.randn(1, 3, frames, size, size)).shape == (1, 3)
            assert model.forward_features(torch.randn(1, 3, frames, size, size)).shape[2] == -(-frames // 8)


def test_r34_defaults_to_the_papers_32_frame_clips_and_builds():
    info = vbench.model_info("r2plus1d_r34")
    assert info.default_input == "32x112x112" and info.family == "3D"
    model = vbench.create_model("r2plus1d_r34", num_classes=2).eval()
    assert [len(getattr(model, f"layer{i}")) for i in range(1, 5)] == [3, 4, 6, 3]
    with torch.no_grad():
        assert model(torch.randn(1, 3, 4, 32, 32)).shape == (1, 2)


def test_user_errors_are_clear():
    model = vbench.create_model("r2plus1d_r18").eval()
    with pytest.raises(InputShapeError, match=r"\(N, C, T, H, W\)"):
        model(torch.randn(1, 3, 32, 32))
    with pytest.raises(VbenchError, match="midplanes must be one of per_conv, per_block"):
        vbench.create_model("r2plus1d_r18", midplanes="per_stage")
    with pytest.raises(CheckpointError, match="3D network.*does not apply"):
        vbench.create_model("r2plus1d_r18", pretrained="imagenet_resnet18.pth")


def test_torchvision_references_are_registered_with_their_differences():
    for name in ("tv_r3d_18", "tv_mc3_18", "tv_r2plus1d_18"):
        info = vbench.model_info(name)
        assert info.family == "3D" and info.default_input == "16x112x112" and "torchvision" in info.notes
    assert "mid-planes per block" in vbench.model_info("tv_r2plus1d_18").notes
    tv = vbench.create_model("tv_r2plus1d_18", num_classes=7)
    ours = vbench.create_model("r2plus1d_r18", num_classes=7, midplanes="per_block")
    assert {k: v.shape for k, v in tv.state_dict().items()} == {k: v.shape for k, v in ours.state_dict().items()}
    with pytest.raises(InputShapeError):
        tv(torch.randn(3, 16, 112, 112))


@pytest.mark.parametrize("name, builder", [("tv_r3d_18", "r3d_18"), ("tv_mc3_18", "mc3_18"),
                                           ("tv_r2plus1d_18", "r2plus1d_18")])
def test_torchvision_references_on_the_one_3d_trunk_equal_torchvision(name, builder):
    torch.manual_seed(0)
    reference = getattr(torchvision.models.video, builder)(weights=None, num_classes=7)
    torch.manual_seed(0)
    ours = vbench.create_model(name, num_classes=7)
    theirs = reference.state_dict()
    assert list(ours.state_dict()) == list(theirs)  # key names and order: their checkpoints load unchanged
    assert all(torch.equal(v, theirs[k]) for k, v in ours.state_dict().items())  # even the initialisation
    _randomise(reference)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        assert torch.equal(ours.eval()(x), reference(x))
