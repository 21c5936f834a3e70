"""Data sources, task-agnostic: photo folders and labels, RAW/RGB pairs, COCO detection sets, the paste-object
set; samplers that make training DDP-correct and resumable. The task datamodules are in :mod:`rawvision.tasks`."""

from rawvision.data.coco import CocoDetection, CocoSet, load_coco, write_coco
from rawvision.data.pairs import (
    RawPair,
    pairs_from_folder,
    pairs_from_hdrplus,
    pairs_from_raw_files,
    pairs_from_rgb_folder,
    split_groups,
)
from rawvision.data.paste_objects import build_paste_set
from rawvision.data.sampling import EpochSampler, EvalSampler, ResumableLoader, seeded_generator
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
    "Photo",
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
    "RawPair",
    "pairs_from_folder",
    "pairs_from_hdrplus",
    "pairs_from_raw_files",
    "pairs_from_rgb_folder",
    "split_groups",
    "build_paste_set",
    "EpochSampler",
    "EvalSampler",
    "ResumableLoader",
    "seeded_generator",
]
