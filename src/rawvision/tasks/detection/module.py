"""The detection task's LightningModule: an optional TA-ISP front end trained end to end with a detector.

TA-ISP (``../shared/papers/ta-isp-summary.txt``) is trained jointly with the downstream detector on the task loss
(the detector's own losses: focal loss + box regression for RetinaNet, plus centre-ness for FCOS). The module pairs
with :class:`rawvision.tasks.detection.RawDetectionDataModule` (batches of ``(images, targets)``, images the demosaiced RAW in
[0, 1]) and reports COCO AP (torchmetrics on pycocotools) on the validation set.
"""

from __future__ import annotations

import math

import lightning as L
import torch

from rawvision.metrics.detection import coco_map_metric, coco_metric_inputs, summarize_map
from rawvision.models.detectors import DETECTORS, build_detector
from rawvision.models.ta_isp import parse_ta_isp_modules
from rawvision.tasks.base import RngStateMixin, param_groups

__all__ = ["DETECTION_FRONT_ENDS", "RawDetection"]

#: ``none``: the demosaiced RAW goes straight into the detector (its TF-Lite normalisation only);
#: ``ta-isp``: TA-ISP (3-channel demosaiced RAW -> RGB in [0, 1]) first.
DETECTION_FRONT_ENDS = ("none", "ta-isp")


class RawDetection(RngStateMixin, L.LightningModule):
    """A torchvision RetinaNet / FCOS on EfficientNet-Lite0 + FPN (ImageNet backbone), optionally behind TA-ISP.

    Batches are ``(images, targets)``: images a list of (3, H, W) float tensors in [0, 1] (the demosaiced RAW, or
    sRGB for the reference row), targets a list of dicts with ``boxes`` (N, 4) float ``[x1, y1, x2, y2]`` pixels
    and ``labels`` (N,) int64 in 1..C. Training minimises the sum of the detector's losses; validation and test
    log COCO box AP (``val/AP``, ``val/AP50``, ``val/AP75``, ... in [0, 1]) and keep the last result in
    ``last_eval``.

    Args:
        num_classes: C, object categories (background excluded).
        detector: ``"retinanet"`` or ``"fcos"``.
        front_end: ``"none"`` or ``"ta-isp"`` (:class:`rawvision.models.TAISP`, 3-channel input).
        ta_isp_modules: TA-ISP modules to keep (ablation): any of ``glc``, ``hsa``, ``rgfm``.
        ta_isp_weight_range: RGFM's range of the region exponents w (x^(1/w)); the official code's default
            (1, 3); its LOD and PASCAL RAW R18 configs use (2, 4).
        lr, front_end_lr, weight_decay: AdamW; TA-ISP's parameters take ``front_end_lr`` (default ``lr``).
        warmup_steps: linear learning-rate warm-up from 0.1 x, then cosine decay to 0 over the run.
        min_size, max_size: the detector's resize of its input (``GeneralizedRCNNTransform``).
        fpn_channels: channels of the pyramid levels P3-P7 (and of the heads).
        pretrained_backbone: ImageNet EfficientNet-Lite0 weights (sha256-checked; a missing file raises
            ``WeightsError``). Only tests pass False.
        freeze_backbone: keep the backbone's weights fixed (train FPN, heads and front end only).
        detector_kwargs: passed to the torchvision detector (e.g. ``score_thresh``, ``detections_per_img``).

    Raises:
        ValueError: an unknown detector, front end or TA-ISP module.
    """

    def __init__(self, num_classes: int = 1, detector: str = "retinanet", front_end: str = "ta-isp",
                 ta_isp_modules: tuple[str, ...] | str = ("glc", "hsa", "rgfm"),
                 ta_isp_weight_range: tuple[float, float] = (1.0, 3.0), lr: float = 1e-4,
                 front_end_lr: float | None = 1e-3, weight_decay: float = 1e-4, warmup_steps: int = 50,
                 min_size: int = 320, max_size: int = 320, fpn_channels: int = 256,
                 pretrained_backbone: bool = True, freeze_backbone: bool = False,
                 detector_kwargs: dict | None = None) -> None:
        super().__init__()
        self.flops_per_batch = None  # for Lightning's ThroughputMonitor (FLOPs are the compute bench's)
        self.check_settings(detector=detector, front_end=front_end, ta_isp_modules=ta_isp_modules)
        ta_isp_modules = list(parse_ta_isp_modules(ta_isp_modules))  # lists: plain YAML in hparams.yaml
        ta_isp_weight_range = [float(v) for v in ta_isp_weight_range]
        self.save_hyperparameters()
        fe = None
        if front_end == "ta-isp":
            from rawvision.models.ta_isp import TAISP

            fe = TAISP(in_channels=3, modules=tuple(ta_isp_modules), weight_range=tuple(ta_isp_weight_range))
        self.model = build_detector(detector, num_classes, front_end=fe, min_size=min_size, max_size=max_size,
                                    pretrained_backbone=pretrained_backbone, fpn_channels=fpn_channels,
                                    **(detector_kwargs or {}))
        if freeze_backbone:
            body = self.model.detector.backbone
            for m in (body.conv_stem, body.bn1, body.blocks):
                m.requires_grad_(False)
        self.metric = coco_map_metric()
        self.last_eval: dict | None = None

    @staticmethod
    def check_settings(detector: str = "retinanet", front_end: str = "ta-isp", ta_isp_modules="glc,hsa,rgfm",
                       **_) -> None:
        """Check the names before any data is read (the class count comes from the data, so the module itself is
        built after the datamodule's setup). Raises ValueError (one line) for an unknown detector, front end or
        TA-ISP module."""
        if detector not in DETECTORS:
            raise ValueError(f"unknown detector {detector!r}: expected one of {', '.join(DETECTORS)}")
        if front_end not in DETECTION_FRONT_ENDS:
            raise ValueError(f"unknown front end {front_end!r}: expected one of {', '.join(DETECTION_FRONT_ENDS)}")
        parse_ta_isp_modules(ta_isp_modules)

    @property
    def front_end(self):
        """The TA-ISP module, or None."""
        return self.model.front_end

    def forward(self, images, targets=None):
        """See :class:`rawvision.models.detectors.FrontEndDetector`."""
        return self.model(images, targets)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        images, targets = batch
        losses = self.model(images, [{"boxes": t["boxes"], "labels": t["labels"]} for t in targets])
        loss = sum(losses.values())  # not checked for finiteness per step (a host sync); train/loss is logged
        bs = len(images)
        self.log("train/loss", loss, prog_bar=True, batch_size=bs)
        self.log_dict({f"train/{k}": v for k, v in losses.items()}, batch_size=bs)
        return loss

    def configure_optimizers(self):
        groups = param_groups(self.model, self.front_end, self.hparams.lr, self.hparams.front_end_lr)
        opt = torch.optim.AdamW(groups, lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        steps = max(1, int(self.trainer.estimated_stepping_batches))
        warm = min(int(self.hparams.warmup_steps), steps // 2)

        def factor(step: int) -> float:
            if step < warm:
                return 0.1 + 0.9 * step / warm
            return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, steps - warm)))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    # -- evaluation --------------------------------------------------------------------------------------------
    def _eval_step(self, batch) -> None:
        images, targets = batch
        preds = self.model(images)
        self.metric.update(*coco_metric_inputs(preds, targets))

    def _eval_end(self, prefix: str) -> None:
        res = summarize_map(self.metric.compute())
        self.metric.reset()
        self.last_eval = res
        self.log_dict({f"{prefix}/{k}": v for k, v in res.items() if not math.isnan(v)})

    def validation_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch)

    def on_validation_epoch_end(self) -> None:
        self._eval_end("val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch)

    def on_test_epoch_end(self) -> None:
        self._eval_end("test")
