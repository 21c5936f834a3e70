"""The learned-ISP task: LW-ISP (RAW -> sRGB) trained on simulated RAW/RGB pairs, with the heterogeneous
distillation of Chen & Ma (BMVC 2022, Sec. 3.3-3.5), and the classical ISP as its baseline."""

from rawvision.tasks.isp.data import IspPairDataModule
from rawvision.tasks.isp.module import ISP_METHODS, LearnedISP, feature_adapters, gray_world_render

__all__ = ["ISP_METHODS", "IspPairDataModule", "LearnedISP", "feature_adapters", "gray_world_render"]
