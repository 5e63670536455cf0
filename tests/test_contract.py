"""Every registered model keeps the one model contract (vbench/models/contract.py)."""

import pytest
import torch
import torchvision
from torch import nn

import vbench
from vbench.data.views import VIEW_PRESETS
from vbench.models.contract import ModelContractError, check_contract, check_structure, feature_layout
from vbench.models.registry import list_models, model_info

CLASSES = 5
# A tiny build and input a model: depth 18 where it has depths, few frames, small frames.
TINY = {
    "ean_r50": dict(frames=10, size=(32, 32)),  # 2 segments of 5 frames; sizes in multiples of 32
    "bqn_r50": dict(frames=6, size=(96, 96)),  # 2 segments of 3 frames; the quiet pathway needs 96 px
    "mstat_vitb16": dict(frames=2, size=(32, 16), embed_dim=32, num_heads=2, stage_depths=(1, 1, 1),
                         img_size=(32, 16)),
    "tada2d_r50": dict(frames=2, size=(64, 64)),
    "tcp_tsn_r50": dict(frames=2, size=(64, 64)),
    "tcp_tsm_r50": dict(frames=2, size=(64, 64)),
    "p3d_r199": dict(frames=1, size=(16, 16)),
    "p3d_r131": dict(frames=1, size=(16, 16)),
}


@pytest.fixture(autouse=True)
def flush_denormals():
    """Deep random-weight nets (P3D-199) make denormal floats, which slow a CPU forward several times."""
    torch.set_flush_denormal(True)
    yield
    torch.set_flush_denormal(False)


def build(name):
    info = model_info(name)
    options = dict(TINY.get(name, {}))
    frames, size = options.pop("frames", 2), options.pop("size", (32, 32))
    if info.depths:
        options["depth"] = 18
    torch.manual_seed(0)
    model = vbench.create_model(name, num_classes=CLASSES, num_frames=frames, **options).eval()
    return model, info, torch.randn(info.input_shape(batch=2, frames=frames, size=size))


@pytest.mark.parametrize("name", list_models())
def test_every_model_keeps_the_contract(name):
    model, info, x = build(name)
    classifier = model.get_submodule(info.classifier)
    assert isinstance(classifier, nn.Linear) and classifier.out_features == CLASSES

    features = check_contract(model, info, x)  # includes forward(x) == forward_head(forward_features(x)), exactly
    if info.task == "person re-identification":
        assert features.shape == (2, model.feature_dim)
    elif info.input == "image":
        assert features.dim() == 4 and features.shape[0] == 2
    else:  # (N, C, T', H', W'): N first, then the classifier's channels (a 3D trunk or folded frames unfolded)
        assert feature_layout(info) == "(N, C, T', H', W')"
        assert features.dim() == 5 and features.shape[0] == 2

    before = {k: v.clone() for k, v in model.state_dict().items()}
    kept = {k: p for k, p in model.named_parameters() if not k.startswith(info.classifier + ".")}
    model.reset_classifier(7)
    assert model.get_submodule(info.classifier).out_features == 7
    assert model.vbench_spec.num_classes == 7
    after = model.state_dict()
    changed = {k for k in after if k not in before or after[k].shape != before[k].shape
               or not torch.equal(after[k], before[k])}
    assert changed and all(k.startswith(info.classifier + ".") for k in changed), changed
    assert all(p is dict(model.named_parameters())[k] for k, p in kept.items())  # the same tensors, not copies
    with torch.no_grad():
        if info.task == "person re-identification":  # identity logits come out in training
            logits = model.train()(x)[0]
        else:
            logits = model(x)
    assert logits.shape == (2, 7)


@pytest.mark.parametrize("name", list_models())
def test_every_model_runs_channels_last_to_the_same_logits(name):
    """`profile --channels-last` and `--optimize` lay weights and activations out
    channels-last: a model must not assume a contiguous layout (TCP's attention once
    called .view on it and failed)."""
    from vbench.profiling.execution import channels_last_weights

    model, info, x = build(name)
    with torch.inference_mode():
        plain = model(x)
        laid_out = channels_last_weights(model)(x)
    assert torch.allclose(laid_out, plain, rtol=1e-4, atol=1e-4 * plain.abs().max().item())


@pytest.mark.parametrize("name", list_models())
def test_every_model_says_its_input_normalisation_and_test_views(name):
    info = model_info(name)
    assert len(info.mean) == len(info.std) == 3 and all(0 < s < 1 for s in info.std)
    assert info.test_views in VIEW_PRESETS


def test_the_3d_references_normalise_with_kinetics_statistics():
    for name in ("r2plus1d_r18", "tv_r3d_18", "tv_r2plus1d_18"):
        assert model_info(name).mean == (0.43216, 0.394666, 0.37645)
    assert model_info("tsm_r50").mean == (0.485, 0.456, 0.406)


class NoHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)

    def forward(self, x):
        return self.fc(x.mean((2, 3, 4)))


def test_a_broken_model_gets_one_line_saying_what_is_missing():
    info = model_info("tsm_r50")
    with pytest.raises(ModelContractError, match="has no forward_features, forward_head, reset_classifier"):
        check_structure(NoHead(), info)
    model = vbench.create_model("tsn_r18", num_classes=3, num_frames=2)
    with pytest.raises(ModelContractError, match="names classifier 'head.nope', which is not an nn.Linear"):
        check_structure(model, type(info)(**{**info.__dict__, "classifier": "head.nope"}))
    with pytest.raises(ModelContractError, match="does not name its classifier"):
        check_structure(model, type(info)(**{**info.__dict__, "classifier": ""}))


def test_imagenet_trunk_load_leaves_the_models_own_classifier(tmp_path):
    from vbench.models import load_imagenet_trunk

    path = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    model = vbench.create_model("eca_r18")  # its classifier, fc, has ImageNet's 1000 outputs: still not loaded
    before = model.fc.weight.clone()
    report = load_imagenet_trunk(model, path)
    assert {"fc.weight", "fc.bias"} <= set(report.missing) and torch.equal(model.fc.weight, before)


def test_reid_features_load_a_checkpoint_of_other_identities_without_its_classifier(tmp_path):
    from types import SimpleNamespace

    from vbench.evaluation.reid_eval import _load_features_only

    tiny = dict(num_frames=2, embed_dim=32, num_heads=2, stage_depths=(1, 1, 1), img_size=(32, 16))
    trained = vbench.create_model("mstat_vitb16", num_classes=5, **tiny)
    path = tmp_path / "mstat.pth"
    torch.save(trained.state_dict(), path)
    model = vbench.create_model("mstat_vitb16", num_classes=7, **tiny)
    settings = SimpleNamespace(checkpoint=str(path), trusted=False, non_strict=False)
    _, notes = _load_features_only(model, settings)
    assert notes == ["checkpoint classifier classifier.weight (5, 96) not loaded (features do not use it)"]
    assert torch.equal(model.bottleneck.weight, trained.bottleneck.weight) and model.classifier.out_features == 7
