"""Data: photo folders, labels, 256x256 patches and the LightningDataModule."""

from rawvision.data.datamodule import PatchDataset, PhotoPatchDataModule, RandomCropDataset
from rawvision.data.photos import (
    DataError,
    Photo,
    find_photos,
    imagenet_wnids,
    load_rgb,
    patch_origins,
    read_label_csv,
    split_photos,
)

__all__ = [
    "DataError",
    "PatchDataset",
    "Photo",
    "PhotoPatchDataModule",
    "RandomCropDataset",
    "find_photos",
    "imagenet_wnids",
    "load_rgb",
    "patch_origins",
    "read_label_csv",
    "split_photos",
]
