"""The model zoo: a registry of builders, one file a method, on shared trunks."""

from vbench.models.checkpoint import LoadReport, load_checkpoint, load_imagenet_trunk, read_checkpoint
from vbench.models.registry import ModelInfo, create_model, list_models, model_info
from vbench.models.weights import Weights, get_weights, list_weights, load_weights, register_weights

__all__ = ["LoadReport", "ModelInfo", "create_model", "list_models", "load_checkpoint",
           "load_imagenet_trunk", "model_info", "read_checkpoint", "Weights", "get_weights", "list_weights",
           "load_weights", "register_weights"]
