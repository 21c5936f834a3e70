"""Semantic segmentation on RAW by ISP Distillation (Eq. 8, Table IV): the LightningModule (the teacher's training
and methods (a)-(e)) and the datamodule (frames + label maps -> RAW on the device)."""

from rawvision.tasks.segmentation.data import SegmentationCropDataset, SegmentationDataModule, SegmentationFrameDataset
from rawvision.tasks.segmentation.module import SEGMENTATION_METHODS, TEACHER_FILE, RawSegmentation

__all__ = ["SEGMENTATION_METHODS", "TEACHER_FILE", "RawSegmentation", "SegmentationCropDataset",
           "SegmentationDataModule", "SegmentationFrameDataset"]
