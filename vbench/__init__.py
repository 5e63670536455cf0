"""vbench: a benchmark harness and a faithful model zoo for efficient video recognition."""

from vbench.models import ModelInfo, create_model, list_models, load_checkpoint, model_info
from vbench.models.registry import register_model
from vbench.models.weights import Weights, get_weights, list_weights, register_weights
from vbench.plugins import load_plugins
from vbench.version import __version__


def load_records(folder="runs", kind="profile"):
    """Records as a pandas DataFrame; see ``vbench.dataframes.load_records``."""
    from vbench.dataframes import load_records as _load_records

    return _load_records(folder, kind)


def profile(*args, **kwargs):
    """Measure models; see ``vbench.profiling.profile``."""
    from vbench.profiling.runner import profile as _profile

    return _profile(*args, **kwargs)


__all__ = ["__version__", "ModelInfo", "Weights", "create_model", "get_weights", "list_models", "list_weights",
           "load_checkpoint", "load_plugins", "load_records", "model_info", "profile", "register_model",
           "register_weights"]
