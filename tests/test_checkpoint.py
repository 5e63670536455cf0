import pytest
import torch

import vbench
from vbench.errors import CheckpointError
from vbench.models import load_checkpoint


def _official_tsm_state_dict(model):
    """vbench's tensors under the TSM code base's key names (as its checkpoints store them)."""
    official = {}
    for key, value in model.state_dict().items():
        if key.startswith("head.fc."):
            official["module.new_fc." + key.removeprefix("head.fc.")] = value.clone()
            continue
        parts = key.split(".")
        if len(parts) > 3 and parts[0].startswith("layer") and parts[2] == "conv1":
            key = ".".join(parts[:3] + ["net"] + parts[3:])  # the shift wraps conv1 as .net
        official["module.base_model." + key] = value.clone()
    return official


def test_official_tsm_checkpoint_lands_every_tensor(tmp_path):
    source = vbench.create_model("tsm_r18", num_classes=11, num_frames=2)
    for p in source.parameters():
        torch.nn.init.normal_(p)
    official = _official_tsm_state_dict(source)
    assert "module.base_model.layer1.0.conv1.net.weight" in official and "module.new_fc.weight" in official
    path = tmp_path / "TSM_kinetics_RGB_resnet18.pth"
    torch.save({"epoch": 50, "arch": "resnet18", "state_dict": official, "best_prec1": 70.1}, path)
    target = vbench.create_model("tsm_r18", num_classes=11, num_frames=2)
    report = load_checkpoint(target, path)
    assert report.complete and report.loaded == len(source.state_dict())
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


def test_tsn_checkpoint_without_dropout_maps_base_model_fc(tmp_path):
    source = vbench.create_model("tsn_r18", num_classes=3, num_frames=2)
    state = {("base_model.fc." + k.removeprefix("head.fc.")) if k.startswith("head.fc.") else "base_model." + k: v
             for k, v in source.state_dict().items()}
    path = tmp_path / "tsn.pth"
    torch.save(state, path)
    assert load_checkpoint(vbench.create_model("tsn_r18", num_classes=3, num_frames=2), path).complete


def test_partial_or_misshaped_checkpoint_is_refused_unless_non_strict(tmp_path):
    source = vbench.create_model("tsn_r18", num_classes=5, num_frames=2)
    state = source.state_dict()
    state.pop("layer1.0.conv1.weight")
    path = tmp_path / "partial.pth"
    torch.save({"model": state}, path)
    target = vbench.create_model("tsn_r18", num_classes=7, num_frames=2)
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(target, path)
    message = str(error.value)
    assert "1 missing: layer1.0.conv1.weight" in message and "head.fc.weight (5, 512) vs model (7, 512)" in message
    report = load_checkpoint(target, path, strict=False)
    assert report.missing == ["layer1.0.conv1.weight"] and len(report.mismatched) == 2


def test_unreadable_and_missing_files_are_one_line_errors(tmp_path):
    model = vbench.create_model("tsn_r18", num_frames=2)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(model, tmp_path / "nope.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(model, junk)


def test_load_policy_modes_name_the_classifier_and_refuse_before_loading(tmp_path):
    from vbench.models.checkpoint import load_with_policy

    source = vbench.create_model("tsm_r18", num_classes=11, num_frames=2)
    for p in source.parameters():
        torch.nn.init.normal_(p)
    path = tmp_path / "tsm.pth"
    torch.save({"state_dict": source.state_dict()}, path)
    target = vbench.create_model("tsm_r18", num_classes=5, num_frames=2)
    untouched = target.layer1[0].conv1.weight.clone()
    with pytest.raises(CheckpointError, match=r"classifier \(head.fc.weight\) has 11 classes but ucf101 has 5"):
        load_with_policy(target, path, "exact", classes_of="ucf101")
    assert torch.equal(target.layer1[0].conv1.weight, untouched)  # refused before anything was loaded
    features = load_with_policy(target, path, "features")
    assert torch.equal(target.layer1[0].conv1.weight, source.layer1[0].conv1.weight)
    assert features.notes == ["checkpoint classifier head.fc.weight (11, 512) not loaded (features do not use it)",
                              "checkpoint classifier head.fc.bias (11,) not loaded (features do not use it)"]
    same = vbench.create_model("tsm_r18", num_classes=11, num_frames=2)
    assert load_with_policy(same, path, "exact").report.complete
    torch.save({"state_dict": {k: v for k, v in source.state_dict().items() if not k.startswith("layer4")}}, path)
    with pytest.raises(CheckpointError, match="does not fit the model: .* missing: layer4"):
        load_with_policy(vbench.create_model("tsm_r18", num_classes=11, num_frames=2), path, "exact")
    partial = load_with_policy(vbench.create_model("tsm_r18", num_classes=11, num_frames=2), path, "partial")
    assert partial.report.missing and partial.report.loaded > 0 and len(partial.sha256) == 16
    torch.save({"state_dict": source.state_dict()}, path)
    other = load_with_policy(vbench.create_model("tsm_r18", num_classes=5, num_frames=2), path, "partial")
    assert other.notes[0] == "checkpoint classifier head.fc.weight (11, 512) not loaded (the model's has shape (5, 512))"
    import torchvision

    torch.save(torchvision.models.resnet18().state_dict(), path)  # an ImageNet ResNet: into the trunk
    initialised = vbench.create_model("tsm_r18", num_classes=11, num_frames=2)
    started = load_with_policy(initialised, path, "init")
    assert started.report.loaded > 50 and all(k.startswith("head.") for k in started.report.missing)
    torch.save({"unrelated.weight": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match="nothing in .* fits tsm_r18"):
        load_with_policy(vbench.create_model("tsm_r18", num_classes=11, num_frames=2), path, "init")
    with pytest.raises(vbench.errors.VbenchError, match="unknown checkpoint load mode 'loose'"):
        load_with_policy(target, path, "loose")
