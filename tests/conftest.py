import pytest
import torch


@pytest.fixture(autouse=True)
def _deterministic_seed():
    torch.manual_seed(0)


def pytest_configure(config):
    import os
    import tempfile

    # FLOP counts cached by a test run stay in a folder of its own, never the user's cache
    os.environ["VBENCH_CACHE"] = tempfile.mkdtemp(prefix="vbench-test-cache-")
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
