"""Object detection on RAW: a detector (RetinaNet / FCOS on EfficientNet-Lite0 + FPN) behind an optional TA-ISP
front end, trained on the task loss; COCO images simulated to RAW on the device."""

from rawvision.tasks.detection.data import DETECTION_INPUTS, RawDetectionDataModule, detection_collate
from rawvision.tasks.detection.module import DETECTION_FRONT_ENDS, RawDetection

__all__ = ["DETECTION_FRONT_ENDS", "DETECTION_INPUTS", "RawDetection", "RawDetectionDataModule",
           "detection_collate"]
