"""Models: ImageNet classifiers and segmentation models by name (teachers, students), the RAW input adapter and
learned ISPs (TA-ISP, LW-ISP)."""

from rawvision.models.adapter import BilinearDemosaic, RawInputAdapter
from rawvision.models.classifiers import (
    Classifier,
    InputNormalization,
    available_classifiers,
    build_classifier,
)
from rawvision.models.segmenters import LRASPPHead, Segmenter, available_segmenters, build_segmenter
from rawvision.models.detectors import EfficientNetLiteFPN, FrontEndDetector, build_detector
from rawvision.models.ta_isp import (
    GlobalLuminanceCalibration,
    HierarchicalSpatialAttention,
    RegionGuidedFeatureModulation,
    TAISP,
)
from rawvision.models.lw_isp import LW_ISP_PARAMS, LW_ISP_VARIANTS, LWISP, LWISPFrontEnd, lw_isp, lw_isp_teacher, lw_isp_tiled
from rawvision.models.weights import EfficientNetLiteWeights, WeightsError, sha256_of

__all__ = [
    "BilinearDemosaic",
    "Classifier",
    "EfficientNetLiteFPN",
    "EfficientNetLiteWeights",
    "FrontEndDetector",
    "GlobalLuminanceCalibration",
    "HierarchicalSpatialAttention",
    "InputNormalization",
    "LRASPPHead",
    "LWISP",
    "LWISPFrontEnd",
    "LW_ISP_PARAMS",
    "LW_ISP_VARIANTS",
    "RawInputAdapter",
    "RegionGuidedFeatureModulation",
    "Segmenter",
    "TAISP",
    "WeightsError",
    "available_classifiers",
    "available_segmenters",
    "build_classifier",
    "build_detector",
    "build_segmenter",
    "lw_isp",
    "lw_isp_teacher",
    "lw_isp_tiled",
    "sha256_of",
]
