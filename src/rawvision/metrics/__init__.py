"""Metrics: teacher agreement and ground-truth accuracy on RAW."""

from rawvision.metrics.classification import RawClassificationMetrics, confident_mask

__all__ = ["RawClassificationMetrics", "confident_mask"]
