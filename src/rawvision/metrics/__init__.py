"""Metrics: teacher agreement and ground-truth accuracy on RAW; COCO AP for detection."""

from rawvision.metrics.classification import RawClassificationMetrics, confident_mask

from rawvision.metrics.detection import coco_ap, coco_map_metric

__all__ = ["RawClassificationMetrics", "coco_ap", "coco_map_metric", "confident_mask"]
