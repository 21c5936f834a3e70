"""Data: photo folders and labels, RAW/RGB pairs, patches, the LightningDataModules, COCO detection sets."""

from rawvision.data.coco import CocoDetection, CocoSet, load_coco, write_coco
from rawvision.data.datamodule import PatchDataset, PhotoPatchDataModule, RandomCropDataset, SimulatingDataModule
from rawvision.data.pairs import (
    RawPair,
    pairs_from_folder,
    pairs_from_hdrplus,
    pairs_from_raw_files,
    pairs_from_rgb_folder,
    split_groups,
)
from rawvision.data.paste_objects import build_paste_set, simulate_detection_raw
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
    "CocoDetection",
    "CocoSet",
    "load_coco",
    "write_coco",
    "SimulatingDataModule",
    "RawPair",
    "RawPairDataModule",
    "load_pairs",
    "pairs_from_folder",
    "pairs_from_hdrplus",
    "pairs_from_raw_files",
    "pairs_from_rgb_folder",
    "split_groups",
    "build_paste_set",
    "simulate_detection_raw",
    "RawDetectionDataModule",
]

from rawvision.data.raw_datamodule import RawPairDataModule, load_pairs  # noqa: E402  (after datamodule)
from rawvision.data.detection import RawDetectionDataModule  # noqa: E402
