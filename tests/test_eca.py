import pytest
import torch

import vbench
from vbench.errors import InputShapeError, VbenchError
from vbench.models import load_checkpoint
from vbench.models.eca import RELEASED_KERNELS
from vbench.models.modules.eca import EfficientChannelAttention, eca_kernel_size
from vbench.models.resnet import refold_frames
from vbench.profiling.flops import count_flops


def _eca_modules(model):
    return [(name, m) for name, m in model.named_modules() if isinstance(m, EfficientChannelAttention)]


def _stage_kernels(model):
    """Kernel size of every block's ECA, grouped by stage: {1: [3, 3, 3], 2: [...], ...}."""
    kernels = {}
    for name, module in _eca_modules(model):
        stage = int(name.split(".")[0].removeprefix("layer"))
        kernels.setdefault(stage, []).append(module.kernel_size)
    return kernels


def test_adaptive_kernel_size_follows_psi():
    # |log2(C)/2 + 1/2| made odd: 64 -> 3.5 -> 3; 256 -> 4.5 -> 5; 512 -> 5; 1024 -> 5.5 -> 5; 2048 -> 6 -> 7
    assert [eca_kernel_size(c) for c in (64, 128, 256, 512, 1024, 2048)] == [3, 5, 5, 5, 5, 7]
    assert eca_kernel_size(2048, gamma=1, b=0) == 11


def test_eca_r50_has_the_papers_80_parameters_with_the_released_kernels():
    model = vbench.create_model("eca_r50")
    eca_params = sum(p.numel() for _, m in _eca_modules(model) for p in m.parameters())
    assert eca_params == 80  # the abstract's figure: 3x3 + 4x5 + 6x5 + 3x7 (k3557)
    assert _stage_kernels(model) == {1: [3] * 3, 2: [5] * 4, 3: [5] * 6, 4: [7] * 3}
    assert sum(p.numel() for p in model.parameters()) == 25_557_032 + 80  # torchvision ResNet-50 + ECA


def test_adaptive_kernels_follow_psi_of_each_stage_and_cost_86_parameters():
    model = vbench.create_model("eca_r50", kernel_sizes="adaptive")
    assert _stage_kernels(model) == {1: [5] * 3, 2: [5] * 4, 3: [5] * 6, 4: [7] * 3}
    assert sum(p.numel() for _, m in _eca_modules(model) for p in m.parameters()) == 86


@pytest.mark.parametrize("depth, params", [(18, 44), (34, 72), (101, 157)])
def test_other_depths_use_their_released_kernels(depth, params):
    model = vbench.create_model(f"eca_r{depth}")
    kernels = _stage_kernels(model)
    assert [stage[0] for stage in kernels.values()] == list(RELEASED_KERNELS[depth])
    assert sum(p.numel() for _, m in _eca_modules(model) for p in m.parameters()) == params


def test_bad_kernel_sizes_are_refused():
    with pytest.raises(VbenchError, match="four odd numbers"):
        vbench.create_model("eca_r18", kernel_sizes="3456")


def test_eca_gates_each_channel_from_its_neighbours_only():
    eca = EfficientChannelAttention(16, 3).eval()
    torch.nn.init.normal_(eca.conv.weight)
    x = torch.rand(2, 16, 5, 5)
    means = x.mean(dim=(2, 3))
    w = eca.conv.weight.view(3)
    padded = torch.nn.functional.pad(means, (1, 1))
    expected_gate = torch.sigmoid(w[0] * padded[:, :-2] + w[1] * padded[:, 1:-1] + w[2] * padded[:, 2:])
    with torch.no_grad():
        out = eca(x)
        assert torch.allclose(out, x * expected_gate[:, :, None, None], atol=1e-6)
        changed = x.clone()
        changed[:, 7] += 1.0  # channel 7's mean moves: only channels 6, 7, 8 see it
        ratio = eca(changed) / changed
    moved = (ratio - out / x).abs().amax(dim=(0, 2, 3)) > 1e-6
    assert moved.nonzero().flatten().tolist() == [6, 7, 8]


def test_eca_costs_are_counted_as_the_analytic_formula():
    c, k, h, w = 32, 5, 6, 7
    count = count_flops(EfficientChannelAttention(c, k), torch.randn(1, c, h, w))
    assert count.by_operator == {"conv": c * k, "adaptive_avg_pool2d": c * h * w}  # 1D conv: C*k MACs
    assert count.elementwise_ops == c + c * h * w  # sigmoid on C gates, the rescaling
    assert count.uncounted == {} and count.dispatch_macs == c * k


def _official_eca_state_dict(model):
    """vbench's tensors under BangguWu/ECANet's key names (``layerK.i.eca.conv.weight``), DataParallel prefix."""
    return {"module." + k.replace(".post.", ".eca."): v.clone() for k, v in model.state_dict().items()}


def test_official_eca_checkpoint_lands_every_tensor(tmp_path):
    source = vbench.create_model("eca_r18", num_classes=10)
    for p in source.parameters():
        torch.nn.init.normal_(p)
    official = _official_eca_state_dict(source)
    assert "module.layer4.1.eca.conv.weight" in official and official["module.layer4.1.eca.conv.weight"].shape == (1, 1, 7)
    path = tmp_path / "eca_resnet18_k3577.pth.tar"
    torch.save({"epoch": 100, "arch": "eca_resnet18", "state_dict": official, "best_prec1": 70.9}, path)
    target = vbench.create_model("eca_r18", num_classes=10)
    report = load_checkpoint(target, path)
    assert report.complete and report.loaded == len(source.state_dict())
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


def test_tsn_eca_starts_from_the_official_imagenet_checkpoint(tmp_path):
    image = vbench.create_model("eca_r18")
    for p in image.parameters():
        torch.nn.init.normal_(p)
    path = tmp_path / "eca_resnet18_k3577.pth.tar"
    torch.save({"state_dict": _official_eca_state_dict(image)}, path)
    video = vbench.create_model("tsn_eca_r18", num_frames=2, pretrained=str(path))
    for key, value in image.state_dict().items():
        if not key.startswith("fc."):
            assert torch.equal(video.state_dict()[key], value), key


def test_video_model_is_tsn_on_the_image_model_trunk():
    image = vbench.create_model("eca_r18").eval()
    video = vbench.create_model("tsn_eca_r18", num_frames=3).eval()
    video.load_state_dict({**video.state_dict(), **{k: v for k, v in image.state_dict().items() if k != "fc.weight"
                                                     and k != "fc.bias"}})
    x = torch.randn(2, 3, 3, 32, 32)
    with torch.no_grad():
        frames = x.transpose(1, 2).reshape(6, 3, 32, 32)
        assert torch.allclose(refold_frames(video.forward_features(x)), image.forward_features(frames), atol=1e-5)
        assert torch.allclose(video(x), video(x.flip(2)), atol=1e-5)  # TSN: order-blind


@pytest.mark.parametrize("frames", [8, 16])
def test_tsn_eca_runs_at_8_and_16_frames(frames):
    model = vbench.create_model("tsn_eca_r18", num_classes=7, num_frames=frames).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, frames, 32, 32)).shape == (1, 7)


def test_wrong_inputs_get_one_clear_error():
    with pytest.raises(InputShapeError, match="image batch"):
        vbench.create_model("eca_r18")(torch.randn(1, 3, 2, 32, 32))
    with pytest.raises(InputShapeError, match="built for 4 frames"):
        vbench.create_model("tsn_eca_r18", num_frames=4)(torch.randn(1, 3, 2, 32, 32))
    info = vbench.model_info("eca_r50")
    assert (info.input, info.num_classes, info.task, info.default_input) == ("image", 1000, "image classification",
                                                                             "224x224")
