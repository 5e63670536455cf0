import torch

import vbench
from vbench.models.modules.shift import TemporalShift, temporal_shift


def test_shift_moves_the_right_channels_the_right_way():
    n, t, c, h, w = 2, 4, 16, 2, 3
    # value = 100 * frame + channel, constant over space, so every move is visible
    frame = torch.arange(t).view(1, t, 1, 1, 1).float()
    channel = torch.arange(c).view(1, 1, c, 1, 1).float()
    x = (100 * frame + channel).expand(n, t, c, h, w).contiguous()
    out = temporal_shift(x.view(n * t, c, h, w), t, fold_div=8).view(n, t, c, h, w)
    fold = c // 8  # 2 channels each way
    for f in range(t):
        # first fold: frame f holds frame f+1 (zeros for the last frame)
        expected_left = (100 * (f + 1) + torch.arange(fold)).float() if f < t - 1 else torch.zeros(fold)
        assert torch.equal(out[:, f, :fold, 0, 0], expected_left.expand(n, fold))
        # second fold: frame f holds frame f-1 (zeros for the first frame)
        expected_right = (100 * (f - 1) + torch.arange(fold, 2 * fold)).float() if f > 0 else torch.zeros(fold)
        assert torch.equal(out[:, f, fold:2 * fold, 0, 0], expected_right.expand(n, fold))
        # the rest stays
        assert torch.equal(out[:, f, 2 * fold:], x[:, f, 2 * fold:])


def test_shift_has_no_parameters_and_keeps_shape():
    module = TemporalShift(num_frames=3)
    x = torch.randn(6, 64, 5, 5)
    assert module(x).shape == x.shape and not list(module.parameters())


def _reverse_frames(x):
    return x.flip(2)


def test_tsn_is_order_blind_and_tsm_is_not():
    x = torch.randn(2, 3, 4, 48, 48)
    tsn = vbench.create_model("tsn_r18", num_classes=5, num_frames=4).eval()
    tsm = vbench.create_model("tsm_r18", num_classes=5, num_frames=4).eval()
    torch.nn.init.normal_(tsn.head.fc.weight)
    tsm.load_state_dict(tsn.state_dict())  # the same weights: only the shift differs
    with torch.no_grad():
        assert torch.allclose(tsn(x), tsn(_reverse_frames(x)), atol=1e-5)
        permuted = x[:, :, torch.tensor([2, 0, 3, 1])]
        assert torch.allclose(tsn(x), tsn(permuted), atol=1e-5)
        assert not torch.allclose(tsm(x), tsm(_reverse_frames(x)), atol=1e-3)
        assert not torch.allclose(tsm(x), tsn(x), atol=1e-3)


def test_tsm_shifts_every_block_and_every_other_block_at_depth_101():
    def shifted(model):
        return [isinstance(b.pre, TemporalShift) for layer in (model.layer1, model.layer2, model.layer3, model.layer4)
                for b in layer]

    assert all(shifted(vbench.create_model("tsm_r50", num_frames=2)))
    r101 = shifted(vbench.create_model("tsm_r101", num_frames=2))
    assert len(r101) == 33 and sum(r101) == 2 + 2 + 12 + 2  # blocks 0, 2, 4... of each stage


def test_tsm_adds_no_parameters_to_tsn():
    tsn = vbench.create_model("tsn_r50")
    tsm = vbench.create_model("tsm_r50")
    assert sum(p.numel() for p in tsn.parameters()) == sum(p.numel() for p in tsm.parameters())
