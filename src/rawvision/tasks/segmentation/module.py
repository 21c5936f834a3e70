"""Semantic segmentation on RAW by ISP Distillation (paper Sec. III Eq. 8, Sec. IV-C, Table IV), and the training of
the RGB teacher it distils from.

Methods (the classification task's names, per pixel):

- ``train_teacher``: the RGB model (ImageNet backbone, random head) trained on the ground-truth masks with CE
  (void ignored); writes ``teacher.pth`` (its state dict) and its sha256 in the run directory.
- ``rgb_teacher``: the trained teacher on the clean RGB frame (the upper bound).
- ``pretrained`` (a): the teacher on the bilinearly demosaiced RAW, no training.
- ``hard_labels`` (b): student trained on the teacher's per-location argmax (the paper's "training with labels").
- ``kd`` (c): Eq. 8 without the feature term: ``alpha`` CE on the teacher's argmax + ``(1 - alpha)`` KD per location
  (KD only at alpha 0, the Table IV config's setting; the paper's alpha is 0.9).
- ``isp_distillation`` (d): Eq. 8 + the feature l2 on the backbone's last feature map.
- ``gt_labels`` (e): student trained on the ground-truth masks (CE, void ignored).

Students are initialised from the teacher and read the RAW mosaic through the classification job's input adapter
(bilinear demosaic + per-CFA-site standardisation, :class:`rawvision.models.adapter.RawInputAdapter`).
"""

from __future__ import annotations

import copy
from pathlib import Path

import lightning as L
import torch
from torch import nn

from rawvision.distill.losses import segmentation_distillation_loss
from rawvision.metrics.segmentation import RawSegmentationMetrics
from rawvision.models.adapter import BilinearDemosaic, RawInputAdapter
from rawvision.models.classifiers import IMAGENET_MEAN, IMAGENET_STD
from rawvision.models.weights import names_a_file
from rawvision.models.segmenters import IMAGENET_BACKBONE, build_segmenter, save_segmenter, upsample_logits
from rawvision.tasks.base import EvalHooksMixin, RawDataModule, RngStateMixin, adamw_schedule

__all__ = ["SEGMENTATION_METHODS", "RawSegmentation", "TEACHER_FILE"]

SEGMENTATION_METHODS = {
    "train_teacher": "RGB teacher, trained on the GT masks",
    "rgb_teacher": "RGB teacher on the clean frame",
    "pretrained": "(a) teacher on demosaiced RAW",
    "hard_labels": "(b) teacher's hard labels per pixel",
    "kd": "(c) per-pixel KD (Eq. 8)",
    "isp_distillation": "(d) ISP Distillation (Eq. 8 + features)",
    "gt_labels": "(e) GT masks",
}
_STUDENT_METHODS = ("hard_labels", "kd", "isp_distillation", "gt_labels")
TEACHER_FILE = "teacher.pth"


class RawSegmentation(EvalHooksMixin, RngStateMixin, L.LightningModule):
    """A segmentation model that reads RAW, distilled per location from an RGB segmentation teacher.

    Batches: ``rgb`` (B, 3, H, W) float in [0, 1], ``raw`` (B, 1, H, W) float, ``label`` (B, H, W) int64 with
    ``ignore_index`` (void) where unlabelled (:class:`~rawvision.tasks.segmentation.SegmentationDataModule`). Evaluation
    scores full frames at the labels' resolution (logits upsampled bilinearly from the head's output: 1/8 for the
    Lite LR-ASPP models): mIoU and pixel
    agreement with the teacher's mask on the clean RGB frame (Table IV's protocol), GT mIoU, per-class IoU and
    pixel accuracy (percentages), kept in ``last_eval``.

    Args:
        num_classes, class_names, ignore_index: from the data (the teacher must have ``num_classes`` outputs;
            ``ignore_index`` is the data's void index).
        method: one of :data:`SEGMENTATION_METHODS`.
        model: :func:`rawvision.models.build_segmenter` name (``lraspp_efficientnet_lite0``, or a torchvision
            segmentation model).
        teacher_weights: the trained teacher: a weights file (``teacher.pth`` of a ``train_teacher`` run) or a
            torchvision ``weights=`` enum name. Required by every method but ``train_teacher`` (never distil from
            an untrained head).
        teacher_sha256: the expected sha256 of the teacher's weights file (checked when given).
        pattern: the Bayer pattern of the RAW.
        alpha, temperature, beta: Eq. 8 (paper: alpha 0.9, T 4; beta weights the feature l2, method (d) only).
        lr, weight_decay, lr_schedule: AdamW, ``cosine`` (per step, to 0) or ``constant``.
        channels_last: run the networks in channels_last (faster on CPU).
        build_weights: read the weight files at construction (False when a checkpoint supplies every weight).

    Raises:
        ValueError: an unknown method, a distillation method without trained teacher weights, a teacher whose
            class count differs from the data's.
    """

    METHODS = SEGMENTATION_METHODS

    def __init__(self, num_classes: int = 11, class_names: list[str] | None = None, ignore_index: int = 11,
                 method: str = "isp_distillation", model: str = "lraspp_efficientnet_lite0",
                 teacher_weights: str | None = None, teacher_sha256: str | None = None, pattern: str = "RGGB",
                 alpha: float = 0.9, temperature: float = 4.0, beta: float = 1.0, lr: float = 1e-3,
                 weight_decay: float = 1e-4, lr_schedule: str = "cosine", channels_last: bool = True,
                 build_weights: bool = True) -> None:
        super().__init__()
        self.flops_per_batch = None  # for Lightning's ThroughputMonitor (FLOPs are the compute bench's)
        self.check_settings(method=method, teacher_weights=teacher_weights, lr_schedule=lr_schedule)
        class_names = list(class_names or [f"class{i}" for i in range(num_classes)])
        if len(class_names) != num_classes:
            raise ValueError(f"{len(class_names)} class names for {num_classes} classes")
        self.save_hyperparameters(ignore=["build_weights"])
        self.method, self.void_index = method, int(ignore_index)
        self.alpha = 1.0 if method in ("hard_labels", "gt_labels", "train_teacher") else float(alpha)
        self.beta = 0.0 if method == "kd" else float(beta)
        self.temperature = float(temperature)
        self.teacher = None
        if method == "train_teacher":
            self.student = build_segmenter(model, IMAGENET_BACKBONE if build_weights else None, num_classes)
        else:
            self.teacher = build_segmenter(model, teacher_weights if build_weights else None, num_classes,
                                           sha256=teacher_sha256 if build_weights else None)
            if self.teacher.num_classes != num_classes:
                raise ValueError(f"the teacher {model} ({teacher_weights}) has {self.teacher.num_classes} classes, "
                                 f"the data {num_classes}")
            self.teacher.requires_grad_(False)
            self.student = copy.deepcopy(self.teacher)
            self.student.preprocess = self._student_input(method, pattern)
            self.student.requires_grad_(method in _STUDENT_METHODS)
        if channels_last:
            for m in (self.teacher, self.student):
                if m is not None:
                    m.to_channels_last()
        self.register_buffer("cfa_stats_ready", torch.tensor(method not in _STUDENT_METHODS))
        self.test_metrics = RawSegmentationMetrics(class_names, ignore_index)
        self.val_metrics = RawSegmentationMetrics(class_names, ignore_index)
        self.last_eval: dict = {}
        self.last_val: dict = {}
        self.teacher_file: dict | None = None

    @staticmethod
    def check_settings(method: str = "isp_distillation", teacher_weights: str | None = None,
                       lr_schedule: str = "cosine", **_) -> None:
        """Names checked before any data is read. Raises ValueError (one line)."""
        if method not in SEGMENTATION_METHODS:
            raise ValueError(f"unknown segmentation method {method!r}: expected one of "
                             f"{', '.join(SEGMENTATION_METHODS)}")
        if method != "train_teacher" and (teacher_weights is None or str(teacher_weights) == IMAGENET_BACKBONE):
            raise ValueError(f"method {method} needs a trained teacher: give teacher_weights (the teacher.pth of a "
                             f"'--method train_teacher' run, or a torchvision weights enum name); an ImageNet "
                             f"backbone with a random head is never a teacher")
        if names_a_file(teacher_weights) and not Path(teacher_weights).is_file():
            raise ValueError(f"teacher weights file {teacher_weights} not found")
        if lr_schedule not in ("cosine", "constant"):
            raise ValueError(f"lr_schedule must be cosine or constant, got {lr_schedule!r}")

    def check_data(self, dm) -> None:
        """Raise a one-line ConfigError when ``dm``'s classes or void index are not the ones this model was trained
        for (evaluating a checkpoint on another folder or class list)."""
        from rawvision.config import ConfigError

        names, void = list(dm.class_names), int(dm.void)
        if names != list(self.hparams.class_names) or void != self.void_index:
            raise ConfigError(f"the model was trained for {len(self.hparams.class_names)} classes "
                              f"{list(self.hparams.class_names)[:4]}... with void {self.void_index}; the data has "
                              f"{len(names)} classes {names[:4]}... with void {void}")

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path, *args, **kwargs):
        """Lightning's loader; the checkpoint holds every weight, so no weight file is read."""
        kwargs.setdefault("build_weights", False)
        return super().load_from_checkpoint(checkpoint_path, *args, **kwargs)

    def _student_input(self, method: str, pattern: str) -> nn.Module:
        """(a): bilinear demosaic + the teacher's preprocessing; students: the per-CFA-site adapter, placed at the
        ImageNet statistics in the teacher's input space (as the classification student)."""
        if method in ("pretrained", "rgb_teacher"):
            return nn.Sequential(BilinearDemosaic(pattern), copy.deepcopy(self.teacher.preprocess))
        pre = self.teacher.preprocess
        mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
        return RawInputAdapter(pattern, target_mean=(mean - pre.mean.view(3)) / pre.std.view(3),
                               target_std=std / pre.std.view(3))

    # -- modes -------------------------------------------------------------------------------------------------
    def train(self, mode: bool = True):
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()
        if self.method not in _STUDENT_METHODS and self.method != "train_teacher":
            self.student.eval()
        return self

    def on_train_start(self) -> None:
        """Lightning keeps the modes modules were built in (``build_segmenter`` returns eval mode): put the trained
        model in train mode (its BatchNorm layers update their statistics), the teacher stays in eval mode."""
        super().on_train_start()
        self.train()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The model under test: (B, 1, H, W) RAW (or (B, 3, H, W) RGB for the teacher methods) -> (B, K, H, W)
        logits at the input's resolution."""
        model = self.teacher if self.method == "rgb_teacher" else self.student
        return model.predict(x)

    def set_cfa_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        if isinstance(self.student.preprocess, RawInputAdapter):
            self.student.preprocess.set_statistics(mean, std)
        self.cfa_stats_ready.fill_(True)

    def on_fit_start(self) -> None:
        if self.method not in _STUDENT_METHODS and self.method != "train_teacher":
            raise ValueError(f"method {self.method!r} is evaluation-only: use trainer.test, not fit")
        if not bool(self.cfa_stats_ready):
            dm = self.trainer.datamodule
            if not isinstance(dm, RawDataModule):
                raise ValueError("per-CFA statistics are not set: call set_cfa_statistics() or fit with a "
                                 "rawvision RawDataModule")
            self.set_cfa_statistics(*dm.cfa_statistics())

    # -- training ----------------------------------------------------------------------------------------------
    def compute_loss(self, batch: dict) -> dict[str, torch.Tensor]:
        """The method's loss terms on one batch (Eq. 8 for the students; CE on the GT for the teacher)."""
        if self.method == "train_teacher":
            logits, _ = self.student(batch["rgb"])
            return segmentation_distillation_loss(logits, logits.detach(), batch["label"], alpha=1.0,
                                                  void_index=self.void_index)
        with torch.no_grad():
            t_logits, t_feat = self.teacher(batch["rgb"])
        s_logits, s_feat = self.student(batch["raw"])
        labels = batch["label"] if self.method == "gt_labels" else None
        return segmentation_distillation_loss(s_logits, t_logits, labels, s_feat, t_feat, alpha=self.alpha,
                                              temperature=self.temperature, beta=self.beta,
                                              void_index=self.void_index)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        out = self.compute_loss(batch)
        bs = batch["rgb"].shape[0]
        self.log("train/loss", out["loss"], prog_bar=True, batch_size=bs)
        self.log_dict({f"train/{k}": out[k] for k in ("ce", "kd", "feat")}, batch_size=bs)
        return out["loss"]

    def configure_optimizers(self):
        params = [p for p in self.student.parameters() if p.requires_grad]
        return adamw_schedule([{"params": params}], self.hparams.lr, self.hparams.weight_decay,
                              self.hparams.lr_schedule, self)

    def on_fit_end(self) -> None:
        """``train_teacher``: write the trained model's weights to ``<run dir>/teacher.pth`` (rank 0)."""
        if self.method != "train_teacher" or not self.trainer.is_global_zero:
            return
        path = Path(self.trainer.default_root_dir) / TEACHER_FILE
        sha = save_segmenter(self.student, path)
        self.teacher_file = {"teacher_file": str(path), "teacher_sha256": sha}

    # -- evaluation --------------------------------------------------------------------------------------------
    def _eval_step(self, batch: dict, metrics: RawSegmentationMetrics) -> None:
        size = batch["label"].shape[-2:]
        t_up = None
        if self.teacher is not None:
            t_up = upsample_logits(self.teacher(batch["rgb"])[0], size)
        if self.method == "rgb_teacher":
            pred = t_up
        elif self.method == "train_teacher":
            pred = upsample_logits(self.student(batch["rgb"])[0], size)
        else:
            pred = upsample_logits(self.student(batch["raw"])[0], size)
        metrics.update(pred, t_up, batch["label"])

    def _eval_end(self, prefix: str, metrics: RawSegmentationMetrics) -> dict:
        res = metrics.compute()
        metrics.reset()
        self.log_dict({f"{prefix}/{k}": float(v) for k, v in res.items() if isinstance(v, (int, float))},
                      sync_dist=False)
        return {**res, **(self.teacher_file or {})}
