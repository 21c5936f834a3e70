"""Models: ImageNet classifiers by name (teachers, students) and the RAW input adapter."""

from rawvision.models.adapter import BilinearDemosaic, RawInputAdapter
from rawvision.models.classifiers import (
    Classifier,
    InputNormalization,
    available_classifiers,
    build_classifier,
    penultimate_module,
)
from rawvision.models.weights import EfficientNetLiteWeights, WeightsError, sha256_of

__all__ = [
    "BilinearDemosaic",
    "Classifier",
    "EfficientNetLiteWeights",
    "InputNormalization",
    "RawInputAdapter",
    "WeightsError",
    "available_classifiers",
    "build_classifier",
    "penultimate_module",
    "sha256_of",
]
