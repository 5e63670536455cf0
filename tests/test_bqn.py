import pytest
import torch
from torch import nn
from torch.nn import functional as F

import vbench
from official_keys import assert_checkpoint_lands, official_state_dict, randomised_state
from vbench.errors import CheckpointError, InputShapeError, VbenchError
from vbench.models import load_imagenet_trunk
from vbench.models.bqn import BusyFromQuiet, QuietFromBusy
from vbench.models.checkpoint import apply_checkpoint_filter, load_state_dict
from vbench.models.modules.bqn import MotionBandPass, log_kernel
from vbench.models.modules.time_conv import temporal_conv3
from vbench.profiling.flops import count_flops

SIZE = 96  # the smallest input whose layer3/layer4 maps are wider than the band-pass padding


def small_bqn(segments=2, **kwargs):
    return vbench.create_model("bqn_r18", num_classes=5, num_frames=3 * segments, **kwargs).eval()


def randomise(model, seed=0):
    """Random weights and BN statistics, so the zero-initialised laterals carry signal."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            elif tensor.is_floating_point() and (name.endswith(".weight") or name.endswith(".bias")):
                if tensor.dim() == 1:
                    tensor.copy_(torch.rand(tensor.shape, generator=generator) * 0.5 + 0.25)
    return model


def static_clip(segments=2, seed=0):
    frame = torch.randn(1, 3, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))
    return frame.expand(1, 3, 3 * segments, SIZE, SIZE).contiguous()


def test_bqn_runs_at_8_and_16_segments_on_small_inputs():
    for segments in (8, 16):
        model = small_bqn(segments)
        with torch.no_grad():
            out = model(torch.randn(1, 3, 3 * segments, SIZE, SIZE))
        assert out.shape == (1, 5) and torch.isfinite(out).all()


def test_busy_pathway_sees_no_signal_in_a_static_clip():
    model = randomise(small_bqn(2))
    with torch.no_grad():
        quiet_input, busy_input = model.split_input(static_clip())
        assert busy_input.abs().max() < 1e-5 and quiet_input.abs().max() > 0.1
        moving = torch.randn(1, 3, 6, SIZE, SIZE)
        assert model.split_input(moving)[1].abs().max() > 0.1
        # with the laterals closed (as initialised), the busy pathway is blind to static content;
        # open, they carry the TSM shift's clip-end zeros of the quiet features, which are not static
        fresh = small_bqn(2)
        fresh.load_state_dict({k: v for k, v in model.state_dict().items() if ".norm." not in k or "laterals" not in k},
                              strict=False)
        quiet_a, busy_a = fresh.pathways(static_clip(seed=1))
        quiet_b, busy_b = fresh.pathways(static_clip(seed=2))
    assert not torch.allclose(quiet_a, quiet_b, atol=1e-3)
    torch.testing.assert_close(busy_a, busy_b, atol=1e-4, rtol=1e-4)


def test_frame_order_matters():
    model = randomise(small_bqn(2))
    x = torch.randn(1, 3, 6, SIZE, SIZE)
    with torch.no_grad():
        assert not torch.allclose(model(x), model(x.flip(2)), atol=1e-4)


def test_quiet_pathway_is_low_resolution_and_independent_of_the_busy_one_at_initialisation():
    model = small_bqn(2)
    x = torch.randn(1, 3, 6, SIZE, SIZE)
    y = x.clone()
    y[:, :, [1, 2, 4, 5]] = torch.randn(1, 3, 4, SIZE, SIZE)  # only the busy frames change
    with torch.no_grad():
        quiet_input, busy_input = model.split_input(x)
        assert quiet_input.shape[-2:] == (60, 60) and busy_input.shape[-2:] == (SIZE, SIZE)
        quiet_x, busy_x = model.pathways(x)
        quiet_y, busy_y = model.pathways(y)
    assert quiet_x.shape[-1] == 2 and busy_x.shape[-1] == 3
    torch.testing.assert_close(quiet_x, quiet_y)  # zero-initialised lateral BNs
    assert not torch.allclose(busy_x, busy_y)


def test_laterals_alternate_over_the_whole_network_as_the_official_block_counter():
    model = vbench.create_model("bqn_r50", num_frames=6)
    kinds = {stage: ["Q" if isinstance(m, QuietFromBusy) else "B" for m in laterals]
             for stage, laterals in model.laterals.items()}
    assert kinds == {"layer1": list("QBQ"), "layer2": list("BQBQ"), "layer3": list("BQBQBQ"), "layer4": list("BQB")}
    kernels = {stage: {m.band_pass.spatial.shape[-1] for m in laterals if isinstance(m, BusyFromQuiet)}
               for stage, laterals in model.laterals.items()}
    assert kernels == {"layer1": {7}, "layer2": {7}, "layer3": {7}, "layer4": {3}}


def test_band_pass_kernels_are_the_official_ones():
    kernel = log_kernel(9, 1.1)
    assert abs(kernel.sum().item() - 1) < 1e-3 and torch.equal(kernel, kernel.T)
    grid = torch.arange(9.0) - 4
    r2 = grid.view(-1, 1) ** 2 + grid.view(1, -1) ** 2
    raw = -(1 / (torch.pi * 1.1 ** 4)) * (1 - r2 / (2 * 1.1 ** 2)) * torch.exp(-r2 / (2 * 1.1 ** 2))
    torch.testing.assert_close(kernel, raw / raw.sum())
    mbpm = MotionBandPass(4, segments=3, kernel_size=7, sigma=0.9)
    torch.testing.assert_close(mbpm.temporal[0, 0], torch.tensor([-1.0, 2.0, -1.0]) / 3)


@pytest.mark.parametrize("pad", ["zeros", "replicate"])
def test_temporal_filter_is_the_official_conv1d(pad):
    x = torch.randn(2 * 5, 3, 4, 4)
    weight = torch.randn(3, 3)
    series = x.view(2, 5, 3, 16).permute(0, 3, 2, 1).reshape(-1, 3, 5)  # (N*H*W, C, T), as the official code
    if pad == "zeros":
        series = F.pad(series, (1, 1))
    else:
        series = torch.cat((series[:, :, :1], series, series[:, :, -1:]), 2)
    reference = F.conv1d(series, weight.unsqueeze(1), groups=3).view(2, 4, 4, 3, 5).permute(0, 4, 3, 1, 2)
    torch.testing.assert_close(temporal_conv3(x, weight, 5, pad=pad), reference.reshape(10, 3, 4, 4))


def test_input_band_pass_filters_the_three_frames_of_each_segment():
    mbpm = MotionBandPass(3, segments=2, kernel_size=9, sigma=1.1, over="frames")
    x = torch.randn(1, 3, 2, 3, 20, 20)
    with torch.no_grad():
        out = mbpm(x)
        frames = x.permute(0, 2, 3, 1, 4, 5).reshape(6, 3, 20, 20)
        spatial = F.conv2d(F.pad(frames, (4,) * 4, mode="reflect"), mbpm.spatial, groups=3).view(2, 3, 3, 20, 20)
        expected = (spatial * mbpm.temporal[:, 0].T.reshape(1, 3, 3, 1, 1)).sum(1)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=5e-4)  # rounding: the LoG taps cancel


def test_clear_errors_for_frames_and_sizes_bqn_cannot_take():
    with pytest.raises(VbenchError, match="multiple of 3"):
        vbench.create_model("bqn_r18", num_frames=8)
    model = small_bqn(2)
    with pytest.raises(InputShapeError, match="6 frames"):
        model(torch.randn(1, 3, 8, SIZE, SIZE))
    with pytest.raises(InputShapeError, match="too small"):
        model(torch.randn(1, 3, 6, 64, 64))


def _official_names(state):
    """vbench's tensors under busy-quiet-net's names (inverse of the converter, from bqn_resnet_reverse.py)."""
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] in ("quiet", "busy"):
            rest = ".".join(parts[1:])
            if parts[1] in ("conv1", "bn1"):
                name = rest if parts[0] == "quiet" else "d_" + rest
            else:
                path = "path_c" if parts[0] == "quiet" else "path_f"
                name = f"{parts[1]}.{parts[2]}.{path}.{'.'.join(parts[3:])}"
        elif parts[0] == "laterals":
            stage, index, what = parts[1], parts[2], ".".join(parts[3:])
            if what.startswith("band_pass."):
                name = f"{stage}.{index}.mbpf.{'conv_s' if what.endswith('spatial') else 'conv_t'}.weight"
            else:
                direction = "up" if f"laterals.{stage}.{index}.band_pass.spatial" in state else "down"
                name = f"{stage}.{index}.{direction}.1.{what.removeprefix('norm.')}"
        elif parts[0] == "input_filter":
            name = "mbpf1.conv_s.weight" if parts[1] == "spatial" else "mbpf1.conv_t.weight"
        else:
            name = key
        out["module.base_model." + name] = value.clone()
    return out


def test_official_checkpoint_lands_every_tensor(tmp_path):
    source = randomised_state(small_bqn(2))
    official = _official_names(source)
    assert "module.base_model.layer1.1.mbpf.conv_s.weight" in official and "module.base_model.d_conv1.weight" in official
    assert "module.base_model.layer1.0.down.1.weight" in official and "module.base_model.layer1.1.up.1.bias" in official
    torch.save({"state_dict": official}, tmp_path / "bqn.pth")
    assert_checkpoint_lands(small_bqn(2), source, tmp_path / "bqn.pth")


def test_every_key_of_the_official_model_has_a_place():
    """Keys and shapes recorded from bqn_resnet_reverse.resnet50 fill bqn_r50 exactly."""
    official = official_state_dict("bqn_r50")
    model = vbench.create_model("bqn_r50", num_classes=400, num_frames=48)
    converted = apply_checkpoint_filter({k.removeprefix("module."): v for k, v in official.items()}, model)
    report = load_state_dict(model, converted, strict=True)
    assert report.complete and report.loaded == len(official)
    assert torch.equal(model.state_dict()["busy.conv1.weight"], official["module.base_model.d_conv1.weight"])
    assert torch.equal(model.state_dict()["laterals.layer4.2.band_pass.spatial"],
                       official["module.base_model.layer4.2.mbpf.conv_s.weight"])


def test_full_resolution_variant_is_refused_with_a_reason():
    model = small_bqn(2)
    with pytest.raises(CheckpointError, match="full-resolution variant"):
        apply_checkpoint_filter({"base_model.layer1.0.d_up.0.weight": torch.zeros(1)}, model)


def test_imagenet_trunk_initialises_both_pathways(tmp_path):
    import torchvision

    torch.save(torchvision.models.resnet18().state_dict(), tmp_path / "resnet18.pth")
    model = small_bqn(2)
    load_imagenet_trunk(model, tmp_path / "resnet18.pth")
    assert torch.equal(model.quiet.layer3[1].conv2.weight, model.busy.layer3[1].conv2.weight)


def test_flop_count_of_the_band_pass_filters():
    segments, channels, h, w = 2, 4, 10, 12
    lateral = MotionBandPass(channels, segments, kernel_size=7, sigma=0.9)
    count = count_flops(lateral, torch.randn(segments, channels, h, w))
    assert count.by_operator == {"conv": segments * channels * h * w * 49}  # depthwise 7x7
    # the 3-tap filter over segments: 3 elementwise ops per output (plus the traced shape arithmetic)
    assert abs(count.elementwise_ops - 3 * segments * channels * h * w) <= 2
    stem = MotionBandPass(3, segments, kernel_size=9, sigma=1.1, over="frames")
    count = count_flops(stem, torch.randn(1, 3, segments, 3, h, w))
    assert count.by_operator == {"conv": segments * 3 * h * w * 81, "einsum": segments * 3 * 3 * h * w}
    assert count.uncounted == {}
