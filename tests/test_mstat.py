"""MSTAT (reconstruction): temporal behaviour, patch shuffling, converter, counting, backbone figures."""

import pytest
import torch
import torchvision

import vbench
from vbench.errors import InputShapeError
from vbench.models import load_imagenet_trunk
from vbench.models.vit import VisionTransformer, convert_vit_state_dict, resize_pos_embed
from vbench.profiling.flops import count_flops

TINY = dict(embed_dim=32, num_heads=2, stage_depths=(1, 1, 1), img_size=(32, 16), patch_size=8)


def tiny(frames=4, **overrides):
    return vbench.create_model("mstat_vitb16", num_frames=frames, **{**TINY, **overrides})


def randomise_temporal(model):
    for block in model.blocks:
        torch.nn.init.normal_(block.temporal_attn.qkv.weight, std=0.3)
        torch.nn.init.normal_(block.temporal_attn.proj.weight, std=0.3)
    torch.nn.init.normal_(model.time_embed, std=0.5)
    return model


def test_registered_as_a_reid_reconstruction():
    info = vbench.model_info("mstat_vitb16")
    assert info.task == "person re-identification" and info.reconstruction
    assert (info.frames, info.size, info.num_classes) == (8, (256, 128), 625)


@pytest.mark.parametrize("frames", [8, 16])
def test_eval_gives_features_and_training_gives_logits_and_features(frames):
    model = tiny(frames, num_classes=7)
    x = torch.randn(2, 3, frames, 32, 16)
    with torch.no_grad():
        features = model.eval()(x)
        logits, raw = model.train()(x)
    assert features.shape == (2, 96) and logits.shape == (2, 7) and raw.shape == (2, 96)


def test_frame_order_reaches_the_feature_only_through_temporal_attention():
    model = tiny().eval()
    x = torch.randn(2, 3, 4, 32, 16)
    reversed_x = x.flip(2)
    with torch.no_grad():
        # at initialisation the temporal output projections are zero: the per-frame ViT, order-blind
        assert torch.allclose(model(x), model(reversed_x), atol=1e-5)
        randomise_temporal(model)
        assert (model(x) - model(reversed_x)).abs().max() > 1e-2
        model.temporal_attention = False
        assert torch.allclose(model(x), model(reversed_x), atol=1e-5)
        assert torch.allclose(model(x), model(x[:, :, torch.tensor([2, 0, 3, 1])]), atol=1e-5)


def test_temporal_patch_shuffling_only_in_training():
    model = randomise_temporal(tiny(shuffle_prob=1.0, shuffle_ratio=1.0))
    x = torch.randn(1, 3, 4, 32, 16)
    with torch.no_grad():
        model.eval()
        assert torch.equal(model.tokens(x), model.tokens(x))
        clean = model.tokens(x)
        model.train()
        shuffled = model.tokens(x)
    patches_clean = clean[:, :, 1:] - model.pos_embed[:, 1:]
    patches_shuffled = shuffled[:, :, 1:] - model.pos_embed[:, 1:]
    assert not torch.allclose(patches_clean, patches_shuffled)
    # a permutation along time at every position: the same multiset of frames per position
    assert torch.allclose(patches_clean.sort(dim=1).values, patches_shuffled.sort(dim=1).values, atol=1e-6)
    assert torch.equal(shuffled[:, :, 0], clean[:, :, 0])  # class tokens untouched


def test_clear_errors_for_frames_and_sizes_it_cannot_take():
    model = tiny().eval()
    with pytest.raises(InputShapeError, match="built for 4 frames but the input has 3"):
        model(torch.randn(1, 3, 3, 32, 16))
    with pytest.raises(InputShapeError, match="multiple of the patch size 8"):
        model(torch.randn(1, 3, 4, 30, 16))


def test_every_op_is_counted_and_attention_matches_the_formula():
    frames, tokens, dim = 4, 1 + 4 * 2, 32
    flops = count_flops(tiny(frames).eval(), torch.randn(1, 3, frames, 32, 16))
    assert flops.uncounted == {}
    spatial = 3 * frames * tokens * tokens * 2 * dim  # 3 blocks, per frame: L x L x (E + Ev) summed over heads
    temporal = 3 * tokens * frames * frames * 2 * dim
    proxies = (4 * (4 + frames * 8) + 1 * (1 + frames) + 5 * (5 + frames * tokens)) * 2 * dim
    assert flops.by_operator["scaled_dot_product_attention"] == spatial + temporal + proxies


def _tiny_torchvision_vit():
    tv = torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=3, num_heads=2,
                                              hidden_dim=32, mlp_dim=128, num_classes=5).eval()
    for p in tv.parameters():
        torch.nn.init.normal_(p, std=0.1)
    return tv


def test_converted_torchvision_vit_computes_what_torchvision_computes():
    tv = _tiny_torchvision_vit()
    ours = VisionTransformer((32, 32), 8, 32, 3, 2, num_classes=5).eval()
    ours.load_state_dict(convert_vit_state_dict(tv.state_dict(), keep_classifier=True))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert (ours(x) - tv(x)).abs().max() < 1e-5
        # the same weights in MSTAT (temporal branches still zero): every frame's final tokens are torchvision's
        model = vbench.create_model("mstat_vitb16", num_frames=2, **{**TINY, "img_size": (32, 32)}).eval()
        report = vbench.models.checkpoint.load_state_dict(model, model.vbench_spec.checkpoint_filter(
            tv.state_dict(), model), strict=False)
        assert not report.unexpected and not report.mismatched
        tokens = model.tokens(x[:, :, None].expand(2, 3, 2, 32, 32))
        for block in model.blocks:
            tokens = block(tokens, model.time_embed)
        expected = tv.encoder(torch.cat([tv.class_token.expand(2, -1, -1),
                                         tv.conv_proj(x).flatten(2).transpose(1, 2)], dim=1))
        assert (model.norm(tokens)[:, 0] - expected).abs().max() < 1e-5


def _timm_names(tv):
    """torchvision's ViT-B/16 tensors under timm's ``VisionTransformer`` key names (written out here)."""
    out = {"cls_token": tv["class_token"], "pos_embed": tv["encoder.pos_embedding"],
           "patch_embed.proj.weight": tv["conv_proj.weight"], "patch_embed.proj.bias": tv["conv_proj.bias"],
           "norm.weight": tv["encoder.ln.weight"], "norm.bias": tv["encoder.ln.bias"],
           "head.weight": tv["heads.head.weight"], "head.bias": tv["heads.head.bias"]}
    for i in range(12):
        layer = f"encoder.layers.encoder_layer_{i}."
        for timm, torchvision_name in (("norm1", "ln_1"), ("norm2", "ln_2"), ("attn.proj", "self_attention.out_proj"),
                                       ("mlp.fc1", "mlp.0"), ("mlp.fc2", "mlp.3")):
            for kind in ("weight", "bias"):
                out[f"blocks.{i}.{timm}.{kind}"] = tv[f"{layer}{torchvision_name}.{kind}"]
        out[f"blocks.{i}.attn.qkv.weight"] = tv[f"{layer}self_attention.in_proj_weight"]
        out[f"blocks.{i}.attn.qkv.bias"] = tv[f"{layer}self_attention.in_proj_bias"]
    return out


def _check_backbone_landed(model, source_timm_names, report):
    state = model.state_dict()
    for key, value in source_timm_names.items():
        if key.startswith("head."):
            continue
        if key == "pos_embed":
            assert state[key].shape == (1, 1 + 16 * 8, 768)
            assert torch.equal(state[key], resize_pos_embed(value, (16, 8)))
            assert torch.equal(state[key][:, 0], value[:, 0])
        else:
            assert torch.equal(state[key], value), key
    backbone = {k for k in state if k.startswith(("patch_embed", "cls_token", "pos_embed", "norm.")) or
                (k.startswith("blocks.") and ".temporal_" not in k)}
    assert not backbone & set(report.missing) and not report.unexpected and not report.mismatched


@pytest.mark.slow
def test_imagenet_vit_b16_converter_lands_every_tensor_from_timm_and_torchvision_names(tmp_path):
    torch.manual_seed(1)
    tv = torchvision.models.vit_b_16(weights=None)
    for p in tv.parameters():
        torch.nn.init.normal_(p, std=0.02)
    timm_names = _timm_names(tv.state_dict())
    assert len(timm_names) == len(tv.state_dict()) == 152 and timm_names["pos_embed"].shape == (1, 197, 768)
    model = vbench.create_model("mstat_vitb16")
    for name, state in (("torchvision", tv.state_dict()), ("timm", timm_names)):
        path = tmp_path / f"{name}.pth"
        torch.save(state, path)
        with torch.no_grad():
            for value in model.state_dict().values():
                value.zero_()  # nothing left from the previous load
        report = load_imagenet_trunk(model, path)
        assert report.loaded == 150
        _check_backbone_landed(model, timm_names, report)


@pytest.mark.slow
def test_backbone_figures_vit_b16_at_224_and_at_256x128():
    meta = torchvision.models.ViT_B_16_Weights.IMAGENET1K_V1.meta  # torchvision's documented figures
    vit = VisionTransformer().eval()
    assert sum(p.numel() for p in vit.parameters()) == meta["num_params"] == 86_567_656
    flops = count_flops(vit, torch.randn(1, 3, 224, 224), audit=False)
    macs = flops.gflops_of(("conv", "linear", "scaled_dot_product_attention"))
    assert macs == pytest.approx(meta["_ops"], rel=1e-3)
    # at 256x128 (16x8 patches + class token) and without the ImageNet head: analytic count
    vit = VisionTransformer(img_size=(256, 128), num_classes=1).eval()
    tokens, dim = 129, 768
    expected = 12 * (12 * tokens * dim * dim + 2 * tokens * tokens * dim) + 128 * 768 * 768 + dim
    flops = count_flops(vit, torch.randn(1, 3, 256, 128), audit=False)
    assert flops.gflops_of(("conv", "linear", "scaled_dot_product_attention")) * 1e9 == pytest.approx(expected, rel=1e-9)
    backbone_params = sum(p.numel() for n, p in vit.named_parameters() if not n.startswith("head."))
    assert backbone_params == 85_746_432  # 86,567,656 - 769,000 (head) - 68 x 768 (fewer positions)
