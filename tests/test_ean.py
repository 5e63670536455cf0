import pytest
import torch
from torch import nn
from torch.nn import functional as F

import vbench
from official_keys import assert_checkpoint_lands, official_state_dict, randomised_state
from vbench.errors import InputShapeError, VbenchError
from vbench.models.checkpoint import apply_checkpoint_filter, load_state_dict
from vbench.models.modules.ean import (
    EventAdaptiveBlock,
    LatentMotionCode,
    LearnableShift,
    MotionExcitation,
    SparseTransformer,
)
from vbench.models.resnet import refold_frames, unfold_frames
from vbench.models.modules.shift import temporal_shift
from vbench.profiling.flops import count_flops


def small_ean(segments=2, **kwargs):
    return vbench.create_model("ean_r18", num_classes=5, num_frames=5 * segments, **kwargs).eval()


def randomise_head(model):
    nn.init.normal_(model.head.fc.weight)  # the official N(0, 0.001) start makes every logit tiny


def test_ean_runs_at_8_and_16_segments_on_small_inputs():
    for segments, size in ((8, 64), (16, 32)):
        model = small_ean(segments)
        with torch.no_grad():
            out = model(torch.randn(2, 3, 5 * segments, size, size))
        assert out.shape == (2, 5) and torch.isfinite(out).all()


def test_frame_order_matters():
    model = small_ean(2)
    randomise_head(model)
    x = torch.randn(1, 3, 10, 64, 64)
    with torch.no_grad():
        assert not torch.allclose(model(x), model(x.flip(2)), atol=1e-3)


def test_trunk_sees_the_middle_frame_of_each_segment_and_lmc_the_rest():
    model = small_ean(2)
    randomise_head(model)
    nn.init.normal_(model.lmc.patch_unembed[0].weight)  # make the motion code strong
    x = torch.randn(1, 3, 10, 64, 64)
    y = x.clone()
    y[:, :, [0, 1, 3, 4, 5, 6, 8, 9]] = y[:, :, [0, 1, 3, 4, 5, 6, 8, 9]].flip(2)  # keep frames 2 and 7
    with torch.no_grad():
        stem = model.maxpool(model.relu(model.bn1(model.conv1(x[:, :, [2, 7]].transpose(1, 2).flatten(0, 1)))))
        frames_x, frames_y = model.segment_frames(x), model.segment_frames(y)
        torch.testing.assert_close(model.lmc(frames_x, stem) - model.lmc(frames_x, torch.zeros_like(stem)), stem)
        assert not torch.allclose(model.lmc(frames_x, stem), model.lmc(frames_y, stem), atol=1e-4)


def test_static_clip_has_no_motion_code():
    lmc = LatentMotionCode().eval()
    frame = torch.randn(1, 3, 2, 1, 64, 64)
    static = frame.expand(1, 3, 2, 5, 64, 64)
    assert torch.equal(LatentMotionCode.differences(static), torch.zeros(2, 3, 4, 32, 32))
    stem = torch.randn(2, 64, 16, 16)
    with torch.no_grad():
        assert torch.equal(lmc(static, stem), stem)  # fresh BNs: no motion, nothing added
        moving = static + 0.1 * torch.randn(1, 3, 2, 5, 64, 64)
        assert not torch.allclose(lmc(moving, stem), stem)


def test_lmc_patches_follow_the_official_layout():
    """Differences of even pixels, 16x16 patches with (row, column, colour) channels, 8x8 x 16 back."""
    lmc = LatentMotionCode().eval()
    frames = torch.randn(1, 3, 1, 5, 64, 96)
    with torch.no_grad():
        nn.init.normal_(lmc.patch_unembed[0].weight)
        code = lmc(frames, torch.zeros(1, 64, 16, 24))
        # the official einops path, written out
        half = F.interpolate(frames[:, :, 0], scale_factor=(1, 0.5, 0.5))
        diff = half[:, :, 1:] - half[:, :, :-1]
        b, c, t, h, w = diff.shape
        patches = diff.reshape(b, c, t, h // 16, 16, w // 16, 16).permute(0, 4, 6, 1, 2, 3, 5).reshape(b, -1, t, 2, 3)
        f = lmc.patch_embed(patches)
        f = f + lmc.context1(f)
        f = f + lmc.context2(f)
        back = lmc.patch_unembed(f).reshape(b, 8, 8, 16, t, 2, 3).permute(0, 3, 4, 5, 1, 6, 2).reshape(b, 16, t, 16, 24)
        torch.testing.assert_close(code, back.reshape(b, 64, 16, 24))


def test_learnable_shift_starts_as_tsm_shift():
    shift = LearnableShift(32, segments=4)
    x = torch.randn(8, 32, 3, 3)
    torch.testing.assert_close(shift(x), temporal_shift(x, 4))
    with torch.no_grad():
        shift.weight.normal_()
        x5 = x.view(2, 4, 32, 3, 3)
        padded = F.pad(x5.permute(0, 3, 4, 2, 1).reshape(-1, 32, 4), (1, 1))
        reference = F.conv1d(padded, shift.weight, groups=32).view(2, 3, 3, 32, 4).permute(0, 4, 3, 1, 2)
        torch.testing.assert_close(shift(x), reference.reshape(8, 32, 3, 3))


def test_motion_excitation_differences_the_next_segment_against_this_one():
    me = MotionExcitation(64, num_frames=4).eval()
    with torch.no_grad():
        me.conv2.weight.zero_()
        me.conv2.weight[:, :, 1, 1] = 1  # an identity 3x3: the difference is b[t+1] - b[t]
        static = torch.randn(2, 1, 64, 5, 5).expand(2, 4, 64, 5, 5).reshape(8, 64, 5, 5)
        torch.testing.assert_close(me(static), static)  # fresh BNs: no difference, no excitation
        moving = torch.randn(8, 64, 5, 5)
        out = me(moving).view(2, 4, 64, 5, 5)
        assert not torch.allclose(out[:, :3], moving.view(2, 4, 64, 5, 5)[:, :3])
        torch.testing.assert_close(out[:, 3], moving.view(2, 4, 64, 5, 5)[:, 3])  # last segment: zero difference


def test_event_adaptive_block_generates_a_kernel_per_video():
    block = EventAdaptiveBlock(64, segments=4).eval()
    x = torch.randn(2 * 4, 64, 8, 8)
    with torch.no_grad():
        compressed = block.compress(unfold_frames(x, 4))  # the official Conv3d on the 3D layout
        kernels = block.dynamic_kernel(compressed)
        assert kernels.shape == (2, 16, 16) and not torch.allclose(kernels[0], kernels[1])
        assert not torch.allclose(block(x), x)  # the expand starts small, not at zero


def _official_eab(block, x3):
    """STCeptionLayer_max's forward (EAB_rfs555.py), written out on the 3D layout."""
    st = block.compress(x3)
    b, c, t, h, w = st.shape
    kernel = block.dynamic_kernel(st)
    max_x = block.max_project(F.max_pool3d(st, 3, 1, 1))
    p1, p2, p3 = torch.split(st, block.splits, 1)
    st = torch.cat((p1, block.temporal(p2), block.temporal_dilated(p3)), 1)
    norm = block.norm
    st = F.relu(F.batch_norm(st, norm.running_mean, norm.running_var, norm.weight, norm.bias))
    st = F.conv3d(st.reshape(1, b * c, t, h, w), kernel.reshape(b * c, c, 1, 1, 1), groups=b).view(b, c, t, h, w)
    p1, p2, p3 = torch.split(st, block.splits, 1)
    return x3 + block.expand(torch.cat((p1, block.spatial(p2), block.spatial_dilated(p3)), 1) + max_x)


def test_event_adaptive_block_on_folded_frames_is_the_official_3d_block():
    block = EventAdaptiveBlock(64, segments=4).eval()
    with torch.no_grad():
        for tensor in block.state_dict().values():
            if tensor.is_floating_point():
                tensor.uniform_(0.5, 1.5) if tensor.dim() == 1 else tensor.normal_(0, 0.2)
        x = torch.randn(2 * 4, 64, 8, 8)
        official = refold_frames(_official_eab(block, unfold_frames(x, 4)))
        torch.testing.assert_close(block(x), official, rtol=1e-4, atol=1e-4)


def test_sparse_transformer_starts_as_average_pooling():
    sparse = SparseTransformer(64, segments=2, grid=(2, 2)).eval()
    x = torch.randn(3, 64, 2, 2, 2)
    with torch.no_grad():
        torch.testing.assert_close(sparse(x), x.mean(dim=(2, 3, 4)))


def test_token_selection_weighs_the_highest_scoring_positions():
    """Each slot's token is the softmax-weighted feature: with a peaked score, the top-scoring position."""
    sparse = SparseTransformer(64, segments=2, grid=(3, 3)).eval()
    x = torch.randn(1, 16, 2, 3, 3)  # reduced features (dim = 64 / 4)
    top = torch.tensor([[0, 4], [8, 3], [5, 5], [1, 7]])  # (slot, segment) -> position
    logits = torch.zeros(1, 4, 2, 9)
    for slot in range(4):
        for segment in range(2):
            logits[0, slot, segment, top[slot, segment]] = 50.0

    class Fixed(nn.Module):
        def forward(self, features):
            return logits.view(1, 4, 2, 3, 3)

    sparse.score_predictor = Fixed()
    with torch.no_grad():
        weights = sparse.scores(x)
        torch.testing.assert_close(weights.sum(-1), torch.ones(1, 4, 2))
        tokens = sparse.select(x)
        features = (x + sparse.position_embedding(3, 3)).view(1, 16, 2, 9)
    assert tokens.shape == (1, 8, 16)  # 4 slots x 2 segments, slot-major
    for slot in range(4):
        for segment in range(2):
            torch.testing.assert_close(tokens[0, 2 * slot + segment], features[0, :, segment, top[slot, segment]])


def test_position_embedding_is_resized_for_other_grids():
    sparse = SparseTransformer(64, segments=2)
    assert torch.equal(sparse.position_embedding(7, 7), sparse.pos_embedding.view(16, 2, 7, 7))
    assert sparse.position_embedding(4, 5).shape == (16, 2, 4, 5)


def test_stacked_lmc_follows_the_official_file_of_each_segment_count():
    assert not vbench.create_model("ean_r18", num_frames=40).lmc.stacked
    assert vbench.create_model("ean_r18", num_frames=80).lmc.stacked
    assert vbench.create_model("ean_r18", num_frames=40, stacked_lmc=True).lmc.stacked


def test_clear_errors_for_frames_and_sizes_ean_cannot_take():
    with pytest.raises(VbenchError, match="multiple of 5"):
        vbench.create_model("ean_r18", num_frames=8)
    model = small_ean(2)
    with pytest.raises(InputShapeError, match="10 frames"):
        model(torch.randn(1, 3, 8, 64, 64))
    with pytest.raises(InputShapeError, match="multiples of 32"):
        model(torch.randn(1, 3, 10, 48, 64))


def _official_names(state):
    """vbench's tensors under EAN-Pytorch's names (inverse of the converter, written from the official files)."""
    eab = {"compress": "compress_c1", "expand": "expand_c1", "temporal": "t_part2_conv",
           "temporal_dilated": "t_part3_conv", "spatial": "s_part2_conv", "spatial_dilated": "s_part3_conv",
           "norm": "non_linear.0", "max_project": "max_project", "kernel_context": "p_prod1",
           "kernel_generator": "p_prod2.0"}
    lmc = {"patch_embed": "stm_proj1", "context1": "stm_st_model1", "context2": "stm_st_model2",
           "patch_unembed": "proj_back", "stacked_differences": "stack_diff_motion"}
    layer = {"attn_norm.norm": "0.fn.norm", "attn.to_qkv": "0.fn.fn.to_qkv", "attn.to_out": "0.fn.fn.to_out.0",
             "ff_norm.norm": "1.fn.norm", "ff.net": "1.fn.fn.net"}
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if key.startswith("head.fc."):
            name = "new_fc." + parts[-1]
        elif parts[0].startswith("eab"):
            part = next(p for p in sorted(eab, key=len, reverse=True) if key.startswith(f"{parts[0]}.{p}."))
            name = f"base_model.relation{parts[0][3]}.{eab[part]}{key[len(parts[0]) + 1 + len(part):]}"
        elif parts[0] == "lmc":
            name = f"base_model.{lmc[parts[1]]}.{'.'.join(parts[2:])}"
        elif parts[0] == "sparse_transformer" and parts[1] == "layers":
            rest = ".".join(parts[3:])
            part = next(p for p in layer if rest.startswith(p + "."))
            name = f"base_model.sparse_transformer.transformer.layers.{parts[2]}.{layer[part]}{rest[len(part):]}"
        else:
            key = key.replace(".reduce.", ".squeeze_l.").replace("sparse_transformer.expand.", "sparse_transformer.expand_l.")
            key = key.replace(".out_norm.", ".Tr_BN.").replace(".mid.t_conv.weight", ".t_conv.conv.weight")
            name = "base_model." + key.replace(".mid.me.", ".me.")
        out["module." + name] = value.clone()
    out["module.base_model.bn2.weight"] = torch.ones(128)  # unused official modules: dropped
    out["module.base_model.relation1.bn2.weight"] = torch.ones(64)
    out["module.base_model.stm_proj2.0.weight"] = torch.ones(256, 512, 1, 1, 1)
    return out


def test_official_checkpoint_lands_every_tensor(tmp_path):
    source = randomised_state(small_ean(2))
    official = _official_names(source)
    assert "module.base_model.layer1.0.t_conv.conv.weight" in official
    assert "module.base_model.sparse_transformer.transformer.layers.1.1.fn.fn.net.6.weight" in official
    torch.save({"epoch": 30, "state_dict": official, "best_prec1": 53.4}, tmp_path / "EAN_8f.pth.tar")
    assert_checkpoint_lands(small_ean(2), source, tmp_path / "EAN_8f.pth.tar")


@pytest.mark.parametrize("name, frames", [("ean_8f", 40), ("ean_16f", 80)])
def test_every_key_of_the_official_model_has_a_place(name, frames):
    """Keys and shapes recorded from EAN_8f.py / EAN_16f.py fill ean_r50 exactly (unused modules dropped)."""
    official = official_state_dict(name)
    model = vbench.create_model("ean_r50", num_classes=174, num_frames=frames)
    converted = apply_checkpoint_filter({k.removeprefix("module."): v for k, v in official.items()}, model)
    report = load_state_dict(model, converted, strict=True)
    dropped = [k for k in official if "bn2." in k and ("relation" in k or ".base_model.bn2" in k) or "stm_proj2" in k]
    assert report.complete and report.loaded == len(official) - len(dropped)
    assert torch.equal(model.state_dict()["eab3.kernel_generator.weight"],
                       official["module.base_model.relation3.p_prod2.0.weight"])


def test_flop_count_of_the_attention_the_dynamic_kernel_and_the_token_selection():
    n, dim, segments, h, w = 1, 64, 2, 3, 3
    sparse = SparseTransformer(4 * dim, segments=segments, grid=(h, w)).eval()
    count = count_flops(sparse, torch.randn(n, 4 * dim, segments, h, w))
    tokens = 4 * segments
    heads, head_dim = 8, dim // 8
    assert count.by_operator["scaled_dot_product_attention"] == 2 * n * heads * tokens * tokens * 2 * head_dim
    assert count.by_operator["einsum"] == n * dim * 4 * segments * h * w
    block = EventAdaptiveBlock(64, segments=4).eval()
    count = count_flops(block, torch.randn(n * 4, 64, 6, 6))
    assert count.by_operator["matmul"] == n * 16 * 16 * 4 * 6 * 6  # U x U kernel on every position
    assert count.uncounted == {}
