"""Temporal plug-in modules that sit in the trunk's block slots (see models/resnet.py)."""
