"""ISP Distillation: the loss and the LightningModule."""

from rawvision.distill.losses import feature_loss, isp_distillation_loss, kd_loss
from rawvision.distill.module import METHODS, TRAINED_METHODS, ISPDistillation, check_method

__all__ = [
    "METHODS",
    "TRAINED_METHODS",
    "ISPDistillation",
    "check_method",
    "feature_loss",
    "isp_distillation_loss",
    "kd_loss",
]
