"""The runtime layer: the precision a forward pass runs at, and saves that never leave half a file."""

import pytest
import torch

from vbench.runtime.precision import autocast
from vbench.runtime.storage import atomic_torch_save


def test_fp32_runs_without_an_autocast_region_and_bf16_casts_matmuls():
    layer = torch.nn.Linear(4, 4)
    x = torch.randn(2, 4)
    with autocast(torch.device("cpu"), torch.float32):
        assert not torch.is_autocast_enabled("cpu")
        assert layer(x).dtype == torch.float32
    with autocast(torch.device("cpu"), torch.bfloat16):
        assert torch.is_autocast_enabled("cpu")
        assert layer(x).dtype == torch.bfloat16


def test_atomic_save_writes_the_whole_file_or_leaves_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "nested" / "state.pt"
    atomic_torch_save({"step": 1}, path)
    assert torch.load(path)["step"] == 1

    def interrupted(obj, target):
        open(target, "wb").write(b"half a fi")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_torch_save({"step": 2}, path)
    monkeypatch.undo()
    assert torch.load(path)["step"] == 1
    assert sorted(p.name for p in path.parent.iterdir()) == ["state.pt"]  # no temporary file left behind
