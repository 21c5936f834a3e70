"""Metrics: teacher agreement and ground-truth accuracy on RAW; mIoU for segmentation; COCO AP for detection."""

from rawvision.metrics.classification import RawClassificationMetrics, confident_mask
from rawvision.metrics.detection import coco_ap, coco_map_metric
from rawvision.metrics.segmentation import RawSegmentationMetrics, iou_from_confusion

__all__ = ["RawClassificationMetrics", "RawSegmentationMetrics", "coco_ap", "coco_map_metric", "confident_mask",
           "iou_from_confusion"]
