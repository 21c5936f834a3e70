"""The classification task's LightningModule: ISP Distillation (the RGB teacher, the RAW student, the loss, the
metrics) and its baselines, the rows of the paper's Table I."""

from __future__ import annotations

import copy
import math

import lightning as L
import torch
from torch import nn

from rawvision.distill.losses import isp_distillation_loss
from rawvision.metrics.classification import RawClassificationMetrics
from rawvision.models.adapter import BilinearDemosaic, RawInputAdapter
from rawvision.models.classifiers import IMAGENET_MEAN, IMAGENET_STD, build_classifier
from rawvision.tasks.base import EvalHooksMixin, RawDataModule, RngStateMixin, adamw_schedule, param_groups

__all__ = ["METHODS", "TRAINED_METHODS", "ISPDistillation", "check_method"]

#: The rows of the paper's Table I (plus the clean-RGB upper bound), by name.
METHODS = {
    "rgb_teacher": "clean RGB, teacher (upper bound; no RAW)",
    "pretrained": "(a) pretrained teacher on the demosaiced RAW, no training",
    "hard_labels": "(b) trained on the teacher's hard labels (CE only)",
    "kd": "(c) ISP Distillation without the feature loss",
    "isp_distillation": "(d) ISP Distillation (KD + feature loss)",
    "gt_labels": "(e) trained on the ground-truth labels (CE only)",
}
TRAINED_METHODS = ("hard_labels", "kd", "isp_distillation", "gt_labels")
#: RAW front ends of the student: ``none`` (bilinear demosaic + per-CFA normalisation, the paper's input adapter)
#: or ``ta-isp`` (bilinear demosaic -> TA-ISP, a ~3 K-parameter learned ISP -> the model's own RGB preprocessing).
FRONT_ENDS = ("none", "ta-isp")


def check_method(method: str) -> str:
    """Return ``method`` if known. Raises ValueError (one line) otherwise."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: expected one of {', '.join(METHODS)}")
    return method


class ISPDistillation(EvalHooksMixin, RngStateMixin, L.LightningModule):
    """Train a classifier that reads RAW by distilling an RGB classifier on RAW/RGB pairs (no human labels).

    Batches are dicts with ``rgb`` (B, 3, H, W) in [0, 1], ``raw`` (B, 1, H, W) and ``label`` (B,) (-1 unlabelled),
    as :class:`~rawvision.tasks.classification.PhotoPatchDataModule` produces them. The teacher runs on ``rgb``
    without gradients; the student, initialised from the teacher, runs on ``raw`` through a bilinear demosaic and
    per-CFA-site normalisation (:class:`~rawvision.models.RawInputAdapter`). Its statistics belong to the model
    (buffers saved in the checkpoint): set them with :meth:`set_cfa_statistics`, or let ``fit`` take them from a
    :class:`~rawvision.tasks.base.RawDataModule`'s ``cfa_statistics()`` (an explicit interface).

    Args:
        method: one of :data:`METHODS`. ``hard_labels`` and ``gt_labels`` force alpha = 1 (CE only), ``kd`` forces
            beta = 0; ``pretrained`` and ``rgb_teacher`` are evaluation-only.
        teacher, teacher_weights: see :func:`~rawvision.models.build_classifier`.
        pattern: Bayer pattern of the RAW.
        alpha, temperature, beta: the loss weights (:func:`~rawvision.distill.isp_distillation_loss`).
        lr, weight_decay: AdamW; ``lr_schedule`` ``"cosine"`` (to 0 over the run) or ``"constant"``.
        trainable_fraction: fine-tune only the first fraction of the student's parameter tensors (in network
            order), as the paper's partial fine-tuning (Table V); frozen layers keep their BatchNorm statistics.
        confidence_threshold: teacher probability above which a test patch is in the confident subset.
        channels_last: run both networks in channels_last memory format.
        student, student_weights: the student's architecture and (ImageNet) weights when it is not a copy of the
            teacher (paper Table VI: an EfficientNet-Lite2 teacher, a Lite0 student); None: the teacher's.
        feature_projection: match the features through a learned linear map of the student's features onto the
            teacher's (beyond the paper: its conclusion proposes it for unequal widths; identity-initialised when
            the widths are equal). Needed for the feature loss when the widths differ.

    Source: Schwartz, Bronstein, Giryes, "ISP Distillation", Sec. III (Eq. 1-7) and IV.
    """

    def __init__(
        self,
        method: str = "isp_distillation",
        teacher: str = "efficientnet_lite0",
        teacher_weights: str | None = "DEFAULT",
        pattern: str = "RGGB",
        alpha: float = 0.9,
        temperature: float = 4.0,
        beta: float = 1.0,
        lr: float = 1e-4,
        weight_decay: float = 0.0,
        lr_schedule: str = "cosine",
        trainable_fraction: float = 1.0,
        confidence_threshold: float = 0.8,
        channels_last: bool = True,
        front_end: str = "none",
        ta_isp_modules: tuple[str, ...] | list[str] | str = ("glc", "hsa", "rgfm"),
        ta_isp_weight_range: tuple[float, float] | list[float] = (1.0, 3.0),
        freeze_model: bool = False,
        front_end_lr: float | None = None,
        student: str | None = None,
        student_weights: str = "DEFAULT",
        feature_projection: bool = False,
    ) -> None:
        super().__init__()
        check_method(method)
        if front_end not in FRONT_ENDS:
            raise ValueError(f"unknown front end {front_end!r}: expected one of {', '.join(FRONT_ENDS)}")
        if freeze_model and front_end == "none":
            raise ValueError("freeze_model needs a trainable front end (front_end='ta-isp'): nothing would train")
        if teacher_weights is None:
            raise ValueError("a teacher needs pretrained weights: rawvision never distils a random network")
        if not 0 < trainable_fraction <= 1:
            raise ValueError(f"trainable_fraction must be in (0, 1], got {trainable_fraction}")
        if lr_schedule not in ("cosine", "constant"):
            raise ValueError(f"lr_schedule must be 'cosine' or 'constant', got {lr_schedule!r}")
        self.save_hyperparameters()
        self.flops_per_batch = None  # for Lightning's ThroughputMonitor (FLOPs are the compute bench's)
        self.method = method
        self.alpha = 1.0 if method in ("hard_labels", "gt_labels") else float(alpha)
        self.beta = 0.0 if method == "kd" else float(beta)
        self.temperature = float(temperature)

        self.teacher = build_classifier(teacher, teacher_weights)
        self.teacher.requires_grad_(False)
        if method == "pretrained" or student in (None, teacher):
            self.student = build_classifier(teacher, teacher_weights)  # initialised from the teacher's weights
        else:
            self.student = build_classifier(student, student_weights)  # its own ImageNet weights
        self.projection = self._feature_projection(feature_projection) if method in TRAINED_METHODS else None
        self.front_end = front_end
        self.student.preprocess = self._student_input(method, front_end, pattern, ta_isp_modules, ta_isp_weight_range)
        if method == "pretrained":
            self.student.requires_grad_(False)
        self.register_buffer("cfa_stats_ready", torch.tensor(False))
        if channels_last:
            self.teacher.to_channels_last()
            self.student.to_channels_last()
        self._frozen_modules: list[nn.Module] = []
        if method in TRAINED_METHODS and trainable_fraction < 1:
            self._frozen_modules = _freeze_after(self.student.net, trainable_fraction)
        if freeze_model:  # only the front end trains; the downstream model stays the ImageNet teacher's copy
            self.student.net.requires_grad_(False)
            self._frozen_modules.append(self.student.net)
        self.test_metrics = RawClassificationMetrics(threshold=confidence_threshold)
        self.val_metrics = RawClassificationMetrics(threshold=confidence_threshold)
        self.last_eval: dict = {}
        self.last_val: dict = {}

    def _feature_projection(self, wanted: bool) -> nn.Module | None:
        """A Linear map of the student's penultimate features onto the teacher's width (or None)."""
        with torch.no_grad():
            x = torch.zeros(1, 3, 64, 64)
            d_t, d_s = self.teacher(x)[1].shape[1], self.student.eval()(x)[1].shape[1]
        if not wanted:
            if d_t != d_s and self.beta > 0 and self.alpha < 1:
                raise ValueError(f"the student's features ({d_s}) and the teacher's ({d_t}) differ in width: use "
                                 f"feature_projection=True or beta=0")
            return None
        proj = nn.Linear(d_s, d_t)
        if d_s == d_t:
            nn.init.eye_(proj.weight)
            nn.init.zeros_(proj.bias)
        return proj

    def _student_input(self, method, front_end, pattern, ta_isp_modules, ta_isp_weight_range) -> nn.Module:
        """What turns the (B, 1, H, W) RAW into the student network's input: the teacher's preprocessing after a
        bilinear demosaic (method (a)); bilinear demosaic -> TA-ISP -> the teacher's preprocessing; or the paper's
        adapter: bilinear demosaic + per-CFA-site standardisation, mapped onto the ImageNet statistics in the
        teacher's input space."""
        if method == "pretrained":
            return nn.Sequential(BilinearDemosaic(pattern), self.teacher.preprocess)
        if front_end == "ta-isp":
            from rawvision.models.ta_isp import TAISP, parse_ta_isp_modules

            # TA-ISP reads the demosaiced RAW in [0, 1] (as the official code) and gives RGB in [0, 1], which the
            # model's own preprocessing (a copy of the teacher's) then normalises.
            isp = TAISP(in_channels=3, modules=tuple(parse_ta_isp_modules(ta_isp_modules)),
                        weight_range=tuple(ta_isp_weight_range))
            return nn.Sequential(BilinearDemosaic(pattern), isp, copy.deepcopy(self.teacher.preprocess))
        pre = self.student.preprocess  # place standardised RAW where the student's own RGB input was
        imagenet_mean, imagenet_std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
        return RawInputAdapter(pattern, target_mean=(imagenet_mean - pre.mean.view(3)) / pre.std.view(3),
                               target_std=imagenet_std / pre.std.view(3))

    # -- modes -------------------------------------------------------------------------------------------------
    def train(self, mode: bool = True):
        super().train(mode)
        self.teacher.eval()
        if self.method not in TRAINED_METHODS:
            self.student.eval()
        for m in self._frozen_modules:
            m.eval()
        return self

    # -- the model under test ----------------------------------------------------------------------------------
    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) RAW -> (B, 1000) logits of the RAW classifier (the student; for ``pretrained`` the teacher
        on the bilinearly demosaiced RAW)."""
        return self.student(raw)[0]

    def set_cfa_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Set the student's per-CFA-site normalisation (no-op for the evaluation-only methods)."""
        if isinstance(self.student.preprocess, RawInputAdapter):
            self.student.preprocess.set_statistics(mean, std)
        self.cfa_stats_ready.fill_(True)

    def on_fit_start(self) -> None:
        if self.method not in TRAINED_METHODS:
            raise ValueError(f"method {self.method!r} is evaluation-only: use trainer.test, not fit")
        dm = self.trainer.datamodule if isinstance(self.trainer.datamodule, RawDataModule) else None
        if self.front_end != "none":  # the learned front end reads the RAW in [0, 1]: no CFA statistics needed
            self.cfa_stats_ready.fill_(True)
        if not bool(self.cfa_stats_ready):
            if dm is None:
                raise ValueError("per-CFA statistics are not set: call set_cfa_statistics() or fit with a "
                                 "rawvision RawDataModule")
            self.set_cfa_statistics(*dm.cfa_statistics())
        if self.method == "gt_labels" and dm is not None and not dm.has_labels():
            raise ValueError("method gt_labels needs ground-truth labels, and the training photos have none")

    # -- training ----------------------------------------------------------------------------------------------
    def compute_loss(self, batch: dict) -> dict[str, torch.Tensor]:
        """Teacher forward (no grad) on ``rgb``, student forward on ``raw``, and the method's loss terms."""
        with torch.no_grad():
            t_logits, t_feat = self.teacher(batch["rgb"])
        s_logits, s_feat = self.student(batch["raw"])
        if self.projection is not None:
            s_feat = self.projection(s_feat)
        labels = batch["label"] if self.method == "gt_labels" else None
        return isp_distillation_loss(
            s_logits, t_logits, labels, s_feat, t_feat, alpha=self.alpha, temperature=self.temperature, beta=self.beta
        )

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        out = self.compute_loss(batch)
        bs = batch["raw"].shape[0]
        self.log("train/loss", out["loss"], prog_bar=True, batch_size=bs)
        self.log_dict({f"train/{k}": out[k] for k in ("ce", "kd", "feat")}, batch_size=bs)
        return out["loss"]

    def configure_optimizers(self):
        groups = param_groups(self.student, self.student.preprocess, self.hparams.lr, self.hparams.front_end_lr)
        if self.projection is not None:
            groups.append({"params": list(self.projection.parameters())})
        return adamw_schedule(groups, self.hparams.lr, self.hparams.weight_decay, self.hparams.lr_schedule,
                              self)

    # -- evaluation --------------------------------------------------------------------------------------------
    def _eval_step(self, batch: dict, metrics: RawClassificationMetrics) -> None:
        t_logits, _ = self.teacher(batch["rgb"])
        logits = t_logits if self.method == "rgb_teacher" else self.student(batch["raw"])[0]
        metrics.update(logits, t_logits, batch["label"])

    def _eval_end(self, prefix: str, metrics: RawClassificationMetrics) -> dict:
        res = metrics.compute()
        metrics.reset()
        self.log_dict({f"{prefix}/{k}": float(v) for k, v in res.items() if v is not None}, sync_dist=False)
        return res


def _freeze_after(net: nn.Module, trainable_fraction: float) -> list[nn.Module]:
    """Freeze all but the first ``trainable_fraction`` of ``net``'s parameter tensors (in network order: the paper's
    partial fine-tuning, Table V); returns the BatchNorm layers whose parameters are all frozen (kept in eval mode,
    so their running statistics stay the teacher's)."""
    params = list(net.named_parameters())
    n_train = max(1, math.ceil(trainable_fraction * len(params)))
    frozen = {name for name, _ in params[n_train:]}
    for _, p in params[n_train:]:
        p.requires_grad_(False)
    return [m for mname, m in net.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
            and all(f"{mname}.{n}" in frozen for n, _ in m.named_parameters(recurse=False))]
