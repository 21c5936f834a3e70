"""ISP Distillation: the loss and the LightningModule; the RAW detection module (TA-ISP + detector)."""

from rawvision.distill.losses import feature_loss, isp_distillation_loss, kd_loss
from rawvision.distill.detection import RawDetection
from rawvision.distill.module import METHODS, TRAINED_METHODS, ISPDistillation, check_method

__all__ = [
    "METHODS",
    "TRAINED_METHODS",
    "ISPDistillation",
    "RawDetection",
    "check_method",
    "feature_loss",
    "isp_distillation_loss",
    "kd_loss",
]
