import pytest
import torch
from torch import nn

import vbench
from vbench.errors import CheckpointError, InputShapeError, VbenchError
from vbench.models import load_checkpoint
from vbench.models.p3d import Bottleneck2D, P3DBottleneck
from vbench.profiling.flops import count_flops

R63_LAYERS = (3, 4, 6, 3)


def _randomise(model: nn.Module) -> nn.Module:
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm3d, nn.BatchNorm2d)):
            m.weight.data.uniform_(0.2, 0.6)
            m.bias.data.normal_(0, 0.1)
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    nn.init.normal_(model.fc.weight, 0, 0.1)
    return model.eval()


def _identity_block(kind: str, reference: str, temporal_sign: float = 1.0) -> P3DBottleneck:
    """A P3D block whose S conv is the identity and T conv is +/- the identity (centre taps),
    with identity BNs, so that what its S/T pair computes shows where its ReLUs and sums are."""
    block = P3DBottleneck(4, 4, 1, kind, reference).eval()
    with torch.no_grad():
        for bn in (block.bn_s, block.bn_t):
            bn.eps = 0.0
        block.conv_s.weight.zero_()
        block.conv_s.weight[:, :, 0, 1, 1] = torch.eye(4)
        block.conv_t.weight.zero_()
        block.conv_t.weight[:, :, 1, 0, 0] = temporal_sign * torch.eye(4)
    return block


def test_blocks_cycle_a_b_c_through_res2_to_res4_and_res5_is_2d():
    model = vbench.create_model("p3d_r63")
    kinds = [block.kind for layer in (model.layer1, model.layer2, model.layer3) for block in layer]
    assert "".join(kinds) == "ABCABCABCABCA"  # block index over the network, modulo 3
    assert all(isinstance(b, Bottleneck2D) for b in model.layer4) and len(model.layer4) == 3
    r199 = vbench.create_model("p3d_r199")
    # the official prototxt: res3b3 (index 6) is P3D-A, res4b35 (index 46) is P3D-B
    assert r199.layer2[3].kind == "A" and r199.layer3[35].kind == "B"
    assert model.layer2[0].conv1.stride == (1, 2, 2) and model.layer2[0].conv_s.stride == (1, 1, 1)


def test_p3d_forms_and_their_relus_follow_the_official_caffe_net_or_the_port():
    x = torch.randn(1, 4, 3, 5, 5)
    relu = torch.relu
    with torch.no_grad():
        # P3D-A: S, BN, ReLU, T, BN, ReLU (both references)
        for reference in ("caffe", "port"):
            assert torch.allclose(_identity_block("A", reference).spatiotemporal(x), relu(x))
        # P3D-B, T = -identity on the block input: Caffe relu(relu(Sx) + Tx), port relu(Sx) + relu(Tx)
        assert torch.allclose(_identity_block("B", "caffe", -1).spatiotemporal(x), relu(relu(x) - x))
        assert torch.allclose(_identity_block("B", "port", -1).spatiotemporal(x), x.abs())
        # P3D-C, T on S's output: Caffe relu(s + Ts), port s + relu(Ts), s = relu(Sx)
        assert torch.allclose(_identity_block("C", "caffe", -1).spatiotemporal(x), torch.zeros_like(x))
        assert torch.allclose(_identity_block("C", "port", -1).spatiotemporal(x), relu(x))


def test_temporal_conv_with_a_delta_kernel_passes_or_shifts_frames():
    block = _identity_block("A", "caffe")
    x = torch.rand(1, 4, 6, 5, 5)
    with torch.no_grad():
        assert torch.allclose(block.spatiotemporal(x), x)  # centre tap: frames pass through
        block.conv_t.weight.zero_()
        block.conv_t.weight[:, :, 2, 0, 0] = torch.eye(4)  # last tap: frame t sees frame t+1
        out = block.spatiotemporal(x)
    assert torch.allclose(out[:, :, :-1], x[:, :, 1:]) and torch.equal(out[:, :, -1], torch.zeros_like(out[:, :, -1]))


def test_params_equal_the_official_networks():
    # counted from the layer shapes of ZhaofanQiu/pseudo-3d-residual-networks
    # prototxt/deploy_p3d_resnet_kinetics.prototxt (400 classes) and ..._sports1m.prototxt (487)
    assert sum(p.numel() for p in vbench.create_model("p3d_r199").parameters()) == 66_492_240
    assert sum(p.numel() for p in vbench.create_model("p3d_r199", num_classes=487).parameters()) == 66_670_503
    # qijiezhao/pseudo-3d-pytorch P3D63(num_classes=400)
    assert sum(p.numel() for p in vbench.create_model("p3d_r63").parameters()) == 25_745_232


def _port_state_dict(layers=R63_LAYERS, num_classes=400) -> dict[str, torch.Tensor]:
    """Key names and shapes of qijiezhao/pseudo-3d-pytorch ``P3D`` (p3d_model.py), written
    from its code: stem ``conv1_custom``; res2-res4 blocks conv1 (1x1x1), conv2 (1x3x3),
    conv3 (3x1x1), conv4 (1x1x1) with bn1-bn4; res5 blocks conv1, conv_normal (3x3), conv4
    as 2D convs with bn1, bn_normal, bn4; ``downsample.0/.1``; ``fc``."""
    state: dict[str, torch.Tensor] = {}

    def bn(prefix, channels):
        for name in ("weight", "bias", "running_mean", "running_var"):
            state[f"{prefix}.{name}"] = torch.randn(channels)
        state[f"{prefix}.num_batches_tracked"] = torch.tensor(0)

    state["conv1_custom.weight"] = torch.randn(64, 3, 1, 7, 7)
    bn("bn1", 64)
    inplanes, depth_3d = 64, sum(layers[:3])
    count = 0
    for stage, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers), 1):
        for i in range(blocks):
            p = f"layer{stage}.{i}"
            if count < depth_3d:
                state[f"{p}.conv1.weight"] = torch.randn(planes, inplanes, 1, 1, 1)
                state[f"{p}.conv2.weight"] = torch.randn(planes, planes, 1, 3, 3)
                state[f"{p}.conv3.weight"] = torch.randn(planes, planes, 3, 1, 1)
                state[f"{p}.conv4.weight"] = torch.randn(planes * 4, planes, 1, 1, 1)
                for j in (1, 2, 3, 4):
                    bn(f"{p}.bn{j}", planes * 4 if j == 4 else planes)
                if i == 0:
                    state[f"{p}.downsample.0.weight"] = torch.randn(planes * 4, inplanes, 1, 1, 1)
            else:
                state[f"{p}.conv1.weight"] = torch.randn(planes, inplanes, 1, 1)
                state[f"{p}.conv_normal.weight"] = torch.randn(planes, planes, 3, 3)
                state[f"{p}.conv4.weight"] = torch.randn(planes * 4, planes, 1, 1)
                bn(f"{p}.bn1", planes)
                bn(f"{p}.bn_normal", planes)
                bn(f"{p}.bn4", planes * 4)
                if i == 0:
                    state[f"{p}.downsample.0.weight"] = torch.randn(planes * 4, inplanes, 1, 1)
            if i == 0:
                bn(f"{p}.downsample.1", planes * 4)
            inplanes = planes * 4
            count += 1
    state["fc.weight"] = torch.randn(num_classes, 2048)
    state["fc.bias"] = torch.randn(num_classes)
    return state


def test_port_checkpoint_lands_every_tensor_in_place(tmp_path):
    port = _port_state_dict()
    path = tmp_path / "p3d_rgb_63.checkpoint.pth.tar"
    torch.save({"epoch": 1, "state_dict": {"module." + k: v for k, v in port.items()}}, path)
    model = vbench.create_model("p3d_r63")
    report = load_checkpoint(model, path)
    assert report.complete and report.loaded == len(port)
    own = model.state_dict()
    where = {  # the port's name -> vbench's, one of each kind
        "conv1_custom.weight": "conv1.weight",
        "layer1.0.conv2.weight": "layer1.0.conv_s.weight", "layer1.0.bn2.running_var": "layer1.0.bn_s.running_var",
        "layer2.1.conv3.weight": "layer2.1.conv_t.weight", "layer2.1.bn3.weight": "layer2.1.bn_t.weight",
        "layer3.5.conv4.weight": "layer3.5.conv3.weight", "layer3.5.bn4.bias": "layer3.5.bn3.bias",
        "layer4.0.conv_normal.weight": "layer4.0.conv2.weight", "layer4.2.bn_normal.weight": "layer4.2.bn2.weight",
        "layer4.0.conv4.weight": "layer4.0.conv3.weight", "layer4.0.downsample.0.weight": "layer4.0.downsample.0.weight",
        "fc.weight": "fc.weight",
    }
    for port_key, key in where.items():
        assert torch.equal(own[key], port[port_key]), port_key
    # every port tensor is somewhere in the model, exactly once
    own_values = list(own.values())
    for key, value in port.items():
        if key.endswith("num_batches_tracked"):
            continue
        assert sum(1 for v in own_values if v.shape == value.shape and torch.equal(v, value)) == 1, key


def test_a_vbench_state_dict_passes_through_the_filter(tmp_path):
    source = vbench.create_model("p3d_r63", num_classes=5)
    path = tmp_path / "p3d.pth"
    torch.save(source.state_dict(), path)
    assert load_checkpoint(vbench.create_model("p3d_r63", num_classes=5), path).complete


def test_output_depends_on_frame_order_at_8_and_16_frames():
    model = _randomise(vbench.create_model("p3d_r63", num_classes=5))
    for frames in (8, 16):
        x = torch.randn(1, 3, frames, 32, 32)
        with torch.no_grad():
            assert not torch.allclose(model(x), model(x.flip(2)), atol=1e-4)


def test_frames_and_sizes_the_pooling_allows():
    caffe = vbench.create_model("p3d_r63", num_classes=3).eval()
    port = vbench.create_model("p3d_r63", num_classes=3, reference="port").eval()
    with torch.no_grad():
        for frames, size, reaches_res5 in [(1, 16, 1), (8, 20, 1), (17, 16, 2)]:
            assert caffe.forward_features(torch.randn(1, 3, frames, size, size)).shape[2] == reaches_res5
            assert caffe(torch.randn(1, 3, frames, size, size)).shape == (1, 3)
        assert port(torch.randn(1, 3, 16, 16, 16)).shape == (1, 3)
    with pytest.raises(InputShapeError, match="at least 16 frames.*floor rounding"):
        port(torch.randn(1, 3, 15, 16, 16))
    with pytest.raises(InputShapeError, match="at least 3x3 pixels"):
        caffe(torch.randn(1, 3, 16, 2, 2))
    with pytest.raises(InputShapeError, match=r"\(N, C, T, H, W\)"):
        caffe(torch.randn(1, 3, 32, 32))


def test_at_16_frames_res5_sees_one_frame_as_in_the_official_net():
    model = _randomise(vbench.create_model("p3d_r63", num_classes=4))
    x = torch.randn(1, 3, 16, 32, 32)
    with torch.no_grad():
        features = model.forward_features(x)
        expected = model.fc(features[:, :, 0].mean(dim=(2, 3)))
        assert features.shape[:3] == (1, 2048, 1) and torch.allclose(model(x), expected, atol=1e-5)


def test_options_and_user_errors():
    assert set(vbench.create_model("p3d_r63", kinds="A").layer3[5].kind) == {"A"}
    with pytest.raises(VbenchError, match="reference must be one of caffe, port"):
        vbench.create_model("p3d_r63", reference="torch")
    with pytest.raises(VbenchError, match="kinds must be"):
        vbench.create_model("p3d_r63", kinds="AD")
    with pytest.raises(CheckpointError, match="3D network"):
        vbench.create_model("p3d_r63", pretrained="resnet50.pth")
    info = vbench.model_info("p3d_r199")
    assert info.family == "3D" and info.default_input == "16x160x160" and info.method == "P3D"


def test_every_op_is_counted():
    flops = count_flops(vbench.create_model("p3d_r63").eval(), torch.randn(1, 3, 16, 32, 32))
    assert flops.uncounted == {}
    assert flops.by_operator["conv"] > 0.99 * flops.gflops_of(("conv", "linear")) * 1e9 > 0
    assert flops.dispatch_macs == pytest.approx(flops.by_operator["conv"] + flops.by_operator["linear"], rel=1e-6)


def test_depth_18_and_34_are_basic_block_extensions_with_one_p3d_pair_a_block():
    from vbench.models.p3d import BasicBlock2D, P3DBasicBlock

    model = vbench.create_model("p3d_r18", num_classes=5)
    blocks = [b for layer in (model.layer1, model.layer2, model.layer3) for b in layer]
    assert all(isinstance(b, P3DBasicBlock) for b in blocks) and "".join(b.kind for b in blocks) == "ABCABC"
    assert all(isinstance(b, BasicBlock2D) for b in model.layer4) and len(model.layer4) == 2
    b = model.layer3[0]  # P3D-B with stride 2: its T reads the block's input, so it is strided too
    assert b.kind == "B" and b.conv_s.stride == b.conv_t.stride == (1, 2, 2) and b.conv_t.in_channels == 128
    # params: ResNet-18's convs with each 3D block's first 3x3 split into 1x3x3 + 3x1x1, its BNs, fc
    stem = 3 * 64 * 49 + 2 * 64
    widths = [(64, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256)]
    blocks3d = sum(i * o * 9 + o * o * 3 + o * o * 9 + 3 * 2 * o + (i * o + 2 * o if i != o else 0)
                   for i, o in widths)
    blocks3d += 128 * 256 * 3 - 256 * 256 * 3  # the strided P3D-B (res4a) has its T from 128 channels
    res5 = (256 * 512 * 9 + 512 * 512 * 9 + 4 * 512 + 256 * 512 + 2 * 512) + (2 * 512 * 512 * 9 + 4 * 512)
    assert sum(p.numel() for p in model.parameters()) == stem + blocks3d + res5 + 512 * 5 + 5
    assert vbench.model_info("p3d_r18").depth == 18 and vbench.model_info("p3d_r34").depth == 34
    assert [len(layer) for layer in (vbench.create_model("p3d_r34").layer1, model.layer1)] == [3, 2]


def test_residual_bns_start_at_zero_only_for_bottleneck_depths_and_basic_p3d_tells_frame_order():
    """From scratch, P3D-18 learns frame order only with unit residual BNs (docstring of _init_weights)."""
    from vbench.models.p3d import BasicBlock2D

    def last_bns(model):  # every residual block's last BN (2D basic blocks: torchvision's bn2)
        blocks = [b for layer in (model.layer1, model.layer2, model.layer3, model.layer4) for b in layer]
        return [b.bn2 if isinstance(b, BasicBlock2D) else b.bn3 for b in blocks]

    basic, bottleneck = vbench.create_model("p3d_r18", num_classes=4), vbench.create_model("p3d_r63", num_classes=4)
    assert len(last_bns(basic)) == 8 and len(last_bns(bottleneck)) == 16
    assert all(bool((bn.weight.detach() == 1).all()) for bn in last_bns(basic))
    assert all(bool((bn.weight.detach() == 0).all()) for bn in last_bns(bottleneck))
    zeroed = vbench.create_model("p3d_r18", num_classes=4, zero_init_residual=True)
    assert all(bool((bn.weight.detach() == 0).all()) for bn in last_bns(zeroed))
    zero = zeroed.eval()
    x = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        stem = zero.pool1(zero.relu(zero.bn1(zero.conv1(x))))
        assert torch.equal(zero.layer1(stem), stem)  # residual BNs at zero: every 3D block is the identity
        model = _randomise(basic)
        assert not torch.allclose(model(x), model(x.flip(2)), atol=1e-4)  # its temporal convs see order
