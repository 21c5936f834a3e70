"""Tasks: one LightningModule + LightningDataModule per task, built from the task-agnostic parts (``raw/``,
``models/``, ``distill/``, ``data/``, ``metrics/``). Registered by name in :data:`rawvision.config.TASKS`:
``classification`` (photos -> simulated RAW), ``classification-pairs`` (real RAW/RGB pairs), ``detection``,
``segmentation`` (per-pixel ISP Distillation, Eq. 8), ``isp`` (a learned RAW -> sRGB ISP: LW-ISP and its
heterogeneous distillation). A new task is a new subpackage here and one line in ``TASKS``."""

from rawvision.tasks.base import EvalHooksMixin, RawDataModule, RngStateMixin, adamw_schedule, param_groups

__all__ = ["EvalHooksMixin", "RawDataModule", "RngStateMixin", "adamw_schedule", "param_groups"]
