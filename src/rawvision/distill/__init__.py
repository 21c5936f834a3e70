"""ISP Distillation's losses, task-agnostic: KD over any class axis (Eq. 3, Hinton's KL with T^2), the feature l2
(Eq. 4) and their combination with CE (Eq. 7; per location for dense tasks, Eq. 8)."""

from rawvision.distill.losses import feature_loss, isp_distillation_loss, kd_loss, segmentation_distillation_loss

__all__ = ["feature_loss", "isp_distillation_loss", "kd_loss", "segmentation_distillation_loss"]
