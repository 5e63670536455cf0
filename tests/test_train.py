"""vbench train: the recipe learns, resumes exactly, runs under torchrun like one process; DREAL."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import vbench
from vbench.models import registry
from vbench.models.attention import AttentionModule, attention_modules
from vbench.models.resnet import refold_frames
from vbench.training.dreal import Dreal, discrete_reward, running_statistics_frozen
from vbench.training.engine import EpochSampler, TrainSettings, train

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(dataset="synthetic", model="tsn_r18", frames=4, size=32, short_side=32, batch_size=4, epochs=2,
            limit_train=12, limit_val=10, workers=0, dropout=0.0)


def tiny(tmp_path, **changes) -> TrainSettings:
    return TrainSettings(**{**TINY, "out": str(tmp_path), **changes})


def test_epoch_sampler_shares_one_permutation_between_processes():
    single = list(EpochSampler(10, 4, seed=3))
    halves = [list(EpochSampler(10, 4, seed=3, rank=r, world=2)) for r in range(2)]
    assert len(single) == 8  # the last partial global batch is dropped
    for step in range(2):  # the union of the two shares of a step is the single process's batch
        assert sorted(halves[0][2 * step:2 * step + 2] + halves[1][2 * step:2 * step + 2]) == \
               sorted(single[4 * step:4 * step + 4])
    other_epoch = EpochSampler(10, 4, seed=3)
    other_epoch.set_epoch(1)
    assert list(other_epoch) != single


def test_killed_training_resumes_to_the_uninterrupted_result(tmp_path):
    complete = train(tiny(tmp_path / "a"))

    def stop_after_first(entry):
        if entry["epoch"] == 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(tiny(tmp_path / "b"), on_epoch=stop_after_first)
    resumed = train(tiny(tmp_path / "b", resume=True))
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in complete["history"]]
    assert resumed["top1"] == complete["top1"]
    a = torch.load(complete["checkpoint"], weights_only=False)["state_dict"]
    b = torch.load(resumed["checkpoint"], weights_only=False)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_unreadable_validation_videos_are_counted_and_past_the_limit_stop_the_run(tmp_path, monkeypatch):
    from vbench.data import DecodeError
    from vbench.data.datasets import synthetic
    from vbench.data.unreadable import TooManyUnreadable

    render = synthetic.SyntheticReader.__init__

    def damaged(self, record, **kwargs):
        if record.meta["key"][2] == 3:  # video 3 of each subset
            raise DecodeError("cannot decode: damaged on purpose")
        render(self, record, **kwargs)

    monkeypatch.setattr(synthetic.SyntheticReader, "__init__", damaged)
    with pytest.raises(TooManyUnreadable, match=r"^1 of 10 validation videos could not be read \(10.0%\), more "
                                                r"than --max-unreadable 0.005 \(0.5%\) allows"):
        train(tiny(tmp_path / "strict", epochs=1))
    listing = json.loads(next((tmp_path / "strict").glob("train/*/val_skipped.json")).read_text())
    assert listing == [{"id": listing[0]["id"], "error": "cannot decode: damaged on purpose"}]
    record = train(tiny(tmp_path / "lenient", epochs=1, max_unreadable=0.1))
    assert record["history"][0]["val_skipped"] == 1 and record["val_skipped"] == 1
    assert record["history"][0]["skipped"] == 1  # the training set's video 3, skipped in the epoch
    with pytest.raises(vbench.errors.VbenchError, match="--max-unreadable must be a fraction"):
        train(tiny(tmp_path, max_unreadable=-0.1))


def test_two_gloo_processes_train_like_one_on_the_same_global_batch(tmp_path):
    args = ["train", "--dataset", "synthetic", "-m", "tsn_r18", "--frames", "4", "--size", "32", "--scale-size",
            "32", "--batch-size", "4", "--epochs", "1", "--limit-train", "8", "--limit-val", "4", "--workers", "0",
            "--dropout", "0", "--json"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    one = subprocess.run([sys.executable, "-m", "vbench", *args, "--out", str(tmp_path / "one")], env=env,
                         capture_output=True, text=True, timeout=900)
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port",
                          "29531", "-m", "vbench", *args, "--out", str(tmp_path / "two")], env=env,
                         capture_output=True, text=True, timeout=900)
    assert two.returncode == 0, two.stderr[-3000:]
    one, two = json.loads(one.stdout), json.loads(two.stdout)
    assert two["world_size"] == 2
    assert two["history"][0]["loss"] == pytest.approx(one["history"][0]["loss"], rel=1e-5)
    a = torch.load(one["checkpoint"], weights_only=False)["state_dict"]
    b = torch.load(two["checkpoint"], weights_only=False)["state_dict"]
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-5, rtol=1e-4), key


def test_the_recipe_reduces_the_loss_on_a_tiny_batch():
    from vbench.training.recipe import Recipe, make_optimizer

    model = vbench.create_model("tsm_r18", num_classes=3, num_frames=4, dropout=0.0)
    x, y = torch.randn(4, 3, 4, 32, 32), torch.tensor([0, 1, 2, 1])
    optimizer = make_optimizer(model, Recipe(lr=0.05))
    losses = []
    for _ in range(6):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# --- DREAL ---------------------------------------------------------------------------------------

class Gate(AttentionModule):
    """Channel attention that can only help: weights > 1 on the channel of the true class."""

    def __init__(self, weights):
        super().__init__()
        self.register_buffer("weights", weights)

    def forward(self, x):
        return self.apply_attention(x, self.weights.view(1, -1))


class GatedNet(nn.Module):
    def __init__(self, first, second):
        super().__init__()
        self.gate1, self.gate2 = Gate(first), Gate(second)

    def forward(self, x):
        return self.gate2(self.gate1(x))


def test_discrete_reward_of_a_hand_made_case():
    with_attention = torch.tensor([0.9, 0.2, 0.5, 0.4])
    without = torch.tensor([0.5, 0.3, 0.5, 0.1])
    assert discrete_reward(with_attention, without).tolist() == [1.0, -1.0, 0.0, 1.0]


def test_critic_step_rewards_the_module_whose_attention_helps():
    # logits = x * g1 * g2 with x = one-hot-ish inputs; gate1 boosts class 0, gate2 suppresses it
    model = GatedNet(torch.tensor([3.0, 1.0, 1.0]), torch.tensor([0.5, 1.0, 1.0]))
    x = torch.tensor([[1.0, 0.8, 0.8], [1.0, 0.9, 0.1]])
    labels = torch.tensor([0, 0])
    dreal = Dreal(model, seed=0)
    rewards = {}
    for _ in range(20):  # the module is drawn at random each step
        logits, descriptors = dreal.forward(model, x)
        step = dreal.critic_step(model, x, labels, logits, descriptors)
        rewards[step.module] = step.mean_reward
    assert rewards == {"gate1": 1.0, "gate2": -1.0}
    assert all(m.attention_enabled for _, m in attention_modules(model))  # removal is undone


def test_reward_pass_leaves_batch_norm_statistics_alone():
    norm = nn.BatchNorm1d(3)
    before = norm.running_mean.clone()
    with running_statistics_frozen(norm):
        norm(torch.randn(8, 3) + 5)
    assert torch.equal(norm.running_mean, before)
    norm(torch.randn(8, 3) + 5)
    assert not torch.equal(norm.running_mean, before)


def test_dreal_needs_attention_modules():
    with pytest.raises(vbench.errors.VbenchError, match="attention modules"):
        Dreal(vbench.create_model("tsn_r18", num_frames=2))


class AttentiveTsn(nn.Module):
    """tsn_r18 with a channel gate after the trunk: a model with one attention module."""

    def __init__(self, num_classes, num_frames):
        super().__init__()
        self.net = vbench.create_model("tsn_r18", num_classes=num_classes, num_frames=num_frames, dropout=0.0)
        self.squeeze = nn.Conv1d(1, 1, 3, padding=1, bias=False)

    def forward(self, x):
        features = refold_frames(self.net.forward_features(x))  # (N*T, C, h, w), as the head takes them
        weights = torch.sigmoid(self.squeeze(features.mean((2, 3)).unsqueeze(1))).squeeze(1)
        gated = _GateModule.instance(self)(features, weights[:, :, None, None])
        return self.net.head(gated)


class _GateModule(AttentionModule):
    def forward(self, features, weights):
        return self.apply_attention(features, weights)

    @staticmethod
    def instance(owner):
        if not hasattr(owner, "gate"):
            owner.gate = _GateModule()
        return owner.gate


def test_dreal_training_exports_the_plain_model(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    def attentive_tsn(num_classes=5, num_frames=4, dropout=0.0):
        model = AttentiveTsn(num_classes, num_frames)
        _GateModule.instance(model)
        return model

    registry.register_model(method="Attentive TSN", paper="-", year=2000, frames=4)(attentive_tsn)
    record = train(tiny(tmp_path, model="attentive_tsn", epochs=1, dreal=True))
    assert record["dreal"] is True  # DREAL is recorded apart from the model, which is no reconstruction
    assert record["reconstruction"] is False
    saved = torch.load(record["checkpoint"], weights_only=False)["state_dict"]
    plain = vbench.create_model("attentive_tsn", num_classes=5, num_frames=4).state_dict()
    assert set(saved) == set(plain)  # no critic in the exported model
    assert not any("critic" in key or "lstm" in key for key in saved)


# --- every trainable model learns ------------------------------------------------------------------

TINY_MODELS = {  # name -> (frames, (H, W), builder overrides): small enough for a few CPU steps
    "bqn_r50": (6, (96, 96), {"depth": 18}),
    "ean_r50": (10, (64, 64), {"depth": 18}),
    "eca_r50": (None, (32, 32), {"depth": 18}),
    "mstat_vitb16": (2, (32, 16), {"embed_dim": 32, "num_heads": 2, "stage_depths": (1, 1, 1),
                                   "img_size": (32, 16), "patch_size": 8}),
    # P3D's last stage sees 1x1 maps at 32 px: batch norm over 4 values makes steps erratic
    "p3d_r63": (8, (64, 64), {}),
    "p3d_r131": (8, (64, 64), {}),
    "p3d_r199": (8, (64, 64), {}),
}


def _tiny(name):
    info = vbench.model_info(name)
    frames, size, overrides = TINY_MODELS.get(name, (4, (32, 32), {"depth": 18} if info.depths else {}))
    model = vbench.create_model(name, num_classes=3, num_frames=frames, **overrides)
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    shape = (4, 3, size[0], size[1]) if info.input == "image" else (4, 3, frames, size[0], size[1])
    return model, torch.randn(shape)


@pytest.mark.parametrize("name", vbench.list_models())
def test_a_few_steps_of_the_recipe_reduce_the_loss(name):
    from vbench.training.recipe import Recipe, make_optimizer

    torch.manual_seed(0)
    model, x = _tiny(name)
    y = torch.tensor([0, 1, 2, 1])
    optimizer = make_optimizer(model, Recipe(lr=0.005))
    model.train()
    losses = []
    for _ in range(8):
        out = model(x)
        logits = out[0] if isinstance(out, tuple) else out
        loss = nn.functional.cross_entropy(logits, y)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 20.0)
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0], losses


@pytest.mark.parametrize("name, frames", [("tsn_eca_r18", 4), ("tea_r18", 4), ("tsi_r18", 4)])
def test_attention_modules_of_the_zoo_can_be_observed_and_removed(name, frames):
    from vbench.models.attention import attention_removed, observe_attention

    model = vbench.create_model(name, num_classes=3, num_frames=frames).eval()
    torch.nn.init.normal_(model.head.fc.weight)
    modules = attention_modules(model)
    assert len(modules) == 8  # one per block at depth 18
    x = torch.randn(1, 3, frames, 32, 32)
    seen = []
    with torch.no_grad(), observe_attention(model, lambda m, w: seen.append(m)):
        full = model(x)
    assert [m for _, m in modules] == seen
    with torch.no_grad(), attention_removed(modules[3][1]):
        without = model(x)
    assert not torch.allclose(full, without)
