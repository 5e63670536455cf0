"""Datasets, decoding, frame sampling and test views, read exactly as the official files say.

    from vbench.data import build_dataset, collate
    ds = build_dataset("ucf101", "/data/ucf101", split=1, subset="test", views="tsm-2x3")
    loader = torch.utils.data.DataLoader(ds, batch_size=4, collate_fn=collate)

vbench never downloads: ``root`` is data the user has. Dataset modules live in
``vbench/data/datasets/`` and register themselves (``@register_dataset``).
"""

from vbench.data.dataset import FLIPS, VideoDataset, build_dataset, collate
from vbench.data.decoding import DECODERS, DecodeError, open_reader
from vbench.data.records import DatasetIndex, LayoutError, SplitFileError, VideoRecord
from vbench.data.registry import DatasetInfo, UnknownDatasetError, dataset_info, index_dataset, list_datasets, \
    register_dataset
from vbench.data.sampling import sample_clips
from vbench.data.transforms import IMAGENET_MEAN, IMAGENET_STD, TRAIN_CROPS
from vbench.data.views import VIEW_PRESETS, ViewPreset, ViewSpec, resolve_views, view_preset

__all__ = ["DECODERS", "FLIPS", "IMAGENET_MEAN", "IMAGENET_STD", "TRAIN_CROPS", "VIEW_PRESETS", "DatasetIndex",
           "DatasetInfo", "DecodeError", "LayoutError", "SplitFileError", "UnknownDatasetError", "VideoDataset",
           "VideoRecord", "ViewPreset", "ViewSpec", "build_dataset", "collate", "dataset_info", "index_dataset",
           "list_datasets", "open_reader", "register_dataset", "resolve_views", "sample_clips", "view_preset"]
