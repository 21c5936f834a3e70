"""rawvision: computer vision directly on camera RAW.

The pipeline, in the order a newcomer reads it:

- :mod:`rawvision.raw`: the sensor model: files, CFA mosaic, noise, demosaic, unprocessing, one simulation entry
  point (:func:`rawvision.raw.simulate_raw`), the classical ISP.
- :mod:`rawvision.models`: classifiers (teachers) by name with their weights, detectors, TA-ISP, the RAW adapter.
- :mod:`rawvision.distill`: the task-agnostic distillation losses (KD, feature l2, Eq. 7).
- :mod:`rawvision.data`: data sources (photo folders, RAW/RGB pairs, COCO) and DDP-correct, resumable samplers.
- :mod:`rawvision.metrics`: teacher agreement and accuracy; COCO AP.
- :mod:`rawvision.tasks`: one LightningModule + LightningDataModule per task (classification, detection).
- :mod:`rawvision.config` (settings generated from the task classes' signatures), :mod:`rawvision.runner`
  (Trainer, run directory, evaluation), :mod:`rawvision.cli` (``rawvision distill | evaluate | demo | bench ...``).
"""

from rawvision import _compat

_compat.install()  # before anything imports torchvision (lightning, timm and torchmetrics do)

__version__ = "0.1.0"
