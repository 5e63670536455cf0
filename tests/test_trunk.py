import pytest
import torch
import torchvision
from torch import nn

import vbench
from vbench.models.resnet import BlockPlugins, BlockSpec, ResNetTrunk, refold_frames


@pytest.mark.parametrize("depth", [18, 50])
def test_trunk_matches_torchvision_resnet_layout_and_output(depth, tmp_path):
    """A torchvision ResNet state dict loads into the trunk and gives the same features."""
    reference = getattr(torchvision.models, f"resnet{depth}")(weights=None).eval()
    path = tmp_path / "imagenet.pth"
    torch.save(reference.state_dict(), path)
    model = vbench.create_model(f"tsn_r{depth}", num_frames=2, pretrained=str(path)).eval()
    x = torch.randn(1, 3, 2, 64, 64)
    frames = x.transpose(1, 2).reshape(2, 3, 64, 64)
    expected = nn.Sequential(*list(reference.children())[:-2])(frames)
    with torch.no_grad():
        assert torch.allclose(refold_frames(model.forward_features(x)), expected, atol=1e-5)
    for key, value in reference.state_dict().items():
        if not key.startswith("fc."):
            assert torch.equal(model.state_dict()[key], value), key


def test_pretrained_of_another_depth_is_refused(tmp_path):
    path = tmp_path / "r18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    with pytest.raises(vbench.models.checkpoint.CheckpointError, match="does not fit the trunk"):
        vbench.create_model("tsn_r50", num_frames=2, pretrained=str(path))


def test_block_specs_give_each_slot_its_widths():
    seen = []

    def record(spec: BlockSpec):
        seen.append(spec)
        return None

    ResNetTrunk(50, num_frames=4, plugins=BlockPlugins(mid=record))
    assert len(seen) == 16
    first, last = seen[0], seen[-1]
    assert (first.stage, first.index, first.in_channels, first.width, first.out_channels) == (1, 0, 64, 64, 256)
    assert (last.stage, last.index, last.width, last.out_channels, last.num_frames) == (4, 2, 512, 2048, 4)
    assert [s.stride for s in seen if s.index == 0] == [1, 2, 2, 2]


def test_plugins_compose_and_replacements_conflict():
    tag = lambda name: (lambda spec: nn.Identity())  # noqa: E731
    both = BlockPlugins(pre=tag("a")) | BlockPlugins(pre=tag("b"))
    trunk = ResNetTrunk(18, plugins=both)
    assert isinstance(trunk.layer1[0].pre, nn.Sequential) and len(trunk.layer1[0].pre) == 2
    with pytest.raises(ValueError, match="spatial"):
        BlockPlugins(spatial=tag("a")) | BlockPlugins(spatial=tag("b"))


def test_spatial_slot_replacement_keeps_torchvision_key_names():
    class Scaled(nn.Conv2d):
        pass

    plugins = BlockPlugins(spatial=lambda s: Scaled(s.width, s.spatial_out, 3, s.stride, 1, bias=False))
    trunk = ResNetTrunk(50, plugins=plugins)
    assert isinstance(trunk.layer2[0].conv2, Scaled) and trunk.layer2[0].conv2.stride == (2, 2)
    assert set(trunk.state_dict()) == {k for k in torchvision.models.resnet50().state_dict() if not k.startswith("fc.")}


def test_stage_strides_and_stem_pool_options():
    trunk = ResNetTrunk(18, stage_strides=(2, 2, 2, 1), stem_pool=False)
    # 64 -> stem conv 32 -> no max-pool -> strides 2, 2, 2, 1 -> 4
    assert trunk.forward_trunk(torch.randn(1, 3, 64, 64)).shape == (1, 512, 4, 4)


def test_image_resnet_equals_torchvision_resnet():
    from vbench.models.resnet import ImageResNet

    reference = torchvision.models.resnet50(weights=None).eval()
    model = ImageResNet(50).eval()
    model.load_state_dict(reference.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(x), reference(x), atol=1e-5)
