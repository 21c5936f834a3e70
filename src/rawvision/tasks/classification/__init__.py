"""Classification by ISP Distillation: the LightningModule (methods (a)-(e) of the paper's Table I) and the
datamodules (photos -> simulated RAW; real RAW/RGB pairs)."""

from rawvision.tasks.classification.data import (
    EVAL_SPLITS,
    PAIR_SOURCES,
    PatchDataset,
    PhotoPatchDataModule,
    RandomCropDataset,
    RawPairDataModule,
    load_pairs,
)
from rawvision.tasks.classification.module import FRONT_ENDS, METHODS, TRAINED_METHODS, ISPDistillation, check_method

__all__ = ["EVAL_SPLITS", "FRONT_ENDS", "METHODS", "PAIR_SOURCES", "TRAINED_METHODS", "ISPDistillation",
           "PatchDataset", "PhotoPatchDataModule", "RandomCropDataset", "RawPairDataModule", "check_method",
           "load_pairs"]
