"""vbench: a benchmark harness and a faithful model zoo for efficient video recognition."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vbench")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"

from vbench.models import ModelInfo, create_model, list_models, load_checkpoint, model_info  # noqa: E402
from vbench.models.registry import register_model  # noqa: E402
from vbench.models.weights import Weights, get_weights, list_weights, register_weights  # noqa: E402
from vbench.plugins import load_plugins  # noqa: E402


def profile(*args, **kwargs):
    """Measure models; see ``vbench.profiling.profile``."""
    from vbench.profiling.runner import profile as _profile

    return _profile(*args, **kwargs)


__all__ = ["__version__", "ModelInfo", "Weights", "create_model", "get_weights", "list_weights", "register_weights", "list_models", "load_checkpoint", "load_plugins", "model_info",
           "profile", "register_model"]
