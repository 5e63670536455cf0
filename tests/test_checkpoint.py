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
