"""rawvision: computer vision directly on camera RAW.

The pipeline, in the order a newcomer reads it:

- :mod:`rawvision.raw`: the sensor model: CFA mosaic, noise, bilinear demosaic, per-CFA-site statistics.
- :mod:`rawvision.models`: ImageNet classifiers (teachers) by name with their weights, and the RAW input adapter.
- :mod:`rawvision.distill`: the ISP Distillation loss and its LightningModule.
- :mod:`rawvision.data`: photo folders -> 256x256 patches, labels, the LightningDataModule.
- :mod:`rawvision.metrics`: teacher agreement and accuracy.
- :mod:`rawvision.cli`: ``rawvision distill | evaluate | demo``.
"""

from rawvision import _compat

_compat.install()  # before anything imports torchvision (lightning, timm and torchmetrics do)

__version__ = "0.1.0"
