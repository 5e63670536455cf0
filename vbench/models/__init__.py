"""The model zoo: a registry of builders, one file a method, on shared trunks."""

from vbench.models.checkpoint import LoadReport, load_checkpoint, load_imagenet_trunk, read_checkpoint
from vbench.models.registry import ModelInfo, create_model, list_models, model_info

__all__ = ["LoadReport", "ModelInfo", "create_model", "list_models", "load_checkpoint",
           "load_imagenet_trunk", "model_info", "read_checkpoint"]
