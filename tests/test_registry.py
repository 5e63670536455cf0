import pytest
import torch

import vbench
from vbench.errors import InputShapeError, UnknownModelError, VbenchError
from vbench.models.registry import resolve_depth


def test_list_models_has_the_foundation_models_and_filters():
    names = vbench.list_models()
    assert {"tsn_r50", "tsm_r50"} <= set(names)
    assert names == sorted(names)
    assert vbench.list_models("tsm*") == [n for n in names if n.startswith("tsm")]
    assert "tsm_r18" in vbench.list_models(aliases=True) and "tsm_r18" not in names


def test_model_info_carries_paper_task_input_and_reported_key():
    info = vbench.model_info("tsm_r50")
    assert info.method == "TSM" and info.year == 2019 and "Temporal Shift" in info.paper
    assert info.task == "action recognition" and info.input == "video"
    assert info.default_input == "8x224x224" and info.num_classes == 400
    assert info.reported_key == "tsm_r50" and info.depths == (18, 34, 50, 101) and info.depth == 50
    assert vbench.model_info("tsm_r18").depth == 18


def test_unknown_model_suggests_close_names():
    with pytest.raises(UnknownModelError) as error:
        vbench.create_model("tsm_r5O")
    assert "tsm_r50" in str(error.value) and "vbench models" in str(error.value)


def test_depth_override_and_alias_build_the_same_network():
    a = vbench.create_model("tsm_r50", depth=18, num_frames=2)
    b = vbench.create_model("tsm_r18", num_frames=2)
    assert a.vbench_spec.name == b.vbench_spec.name == "tsm_r18"
    assert [k for k in a.state_dict()] == [k for k in b.state_dict()]
    assert resolve_depth("tsn_r50", 101) == "tsn_r101"
    with pytest.raises(VbenchError, match="depth"):
        vbench.create_model("tsm_r50", depth=42)


def test_unknown_option_and_bad_counts_are_user_errors():
    with pytest.raises(VbenchError, match="does not take"):
        vbench.create_model("tsn_r18", nonsense=1)
    with pytest.raises(VbenchError, match="num_classes"):
        vbench.create_model("tsn_r18", num_classes=0)
    with pytest.raises(VbenchError, match="num_frames"):
        vbench.create_model("tsn_r18", num_frames=0)


def test_video_models_take_ncthw_and_return_logits():
    model = vbench.create_model("tsm_r18", num_classes=7, num_frames=4).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 4, 64, 64))
    assert out.shape == (2, 7)


def test_wrong_frame_count_and_rank_give_clear_errors():
    model = vbench.create_model("tsm_r18", num_frames=4).eval()
    with pytest.raises(InputShapeError, match="built for 4 frames but the input has 3"):
        model(torch.randn(1, 3, 3, 32, 32))
    with pytest.raises(InputShapeError, match=r"\(N, C, T, H, W\)"):
        model(torch.randn(1, 3, 32, 32))
