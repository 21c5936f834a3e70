"""Segmentation metrics on RAW: mIoU *agreement* with the RGB teacher's mask (ISP Distillation, Table IV) and
ground-truth mIoU with per-class IoU and pixel accuracy (beyond the paper, which had no ground truth).

Both are read off torchmetrics' ``MulticlassConfusionMatrix`` (summed over batches and, under DDP, over ranks), so
every figure is exact over the whole evaluation set: ``IoU_c = TP_c / (TP_c + FP_c + FN_c)``, mIoU the mean over
the classes that occur in the target or the prediction (a class absent from both has no IoU and is left out, as
torchmetrics' ``MulticlassJaccardIndex`` with ``average="macro"`` does for classes with a zero union), pixel
accuracy ``sum_c TP_c / sum(confusion)``; void pixels of the ground truth are not counted.
"""

from __future__ import annotations

import torch
from torch import nn
from torchmetrics import SumMetric
from torchmetrics.classification import MulticlassConfusionMatrix

__all__ = ["RawSegmentationMetrics", "iou_from_confusion"]


def iou_from_confusion(confusion: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(iou (K,), miou (), pixel_acc ())`` from a (K, K) confusion matrix (rows target, columns prediction).

    ``iou`` is NaN for a class with a zero union; ``miou`` the mean over the others; values are fractions in
    [0, 1].

    Example:
        >>> cm = torch.tensor([[2, 1], [0, 1]])  # class 0: TP 2, FN 1; class 1: TP 1, FP 1
        >>> iou, miou, acc = iou_from_confusion(cm)
        >>> [round(v, 4) for v in iou.tolist()], round(float(miou), 4), round(float(acc), 4)
        ([0.6667, 0.5], 0.5833, 0.75)
    """
    cm = confusion.double()
    tp = cm.diagonal()
    union = cm.sum(0) + cm.sum(1) - tp
    iou = torch.where(union > 0, tp / union.clamp_min(1), torch.full_like(tp, float("nan")))
    valid = union > 0
    miou = iou[valid].mean() if bool(valid.any()) else torch.tensor(float("nan"), dtype=cm.dtype)
    total = cm.sum()
    acc = tp.sum() / total if total > 0 else torch.tensor(float("nan"), dtype=cm.dtype)
    return iou, miou, acc


class RawSegmentationMetrics(nn.Module):
    """mIoU and pixel agreement with the teacher's mask, and GT mIoU / per-class IoU / pixel accuracy.

    ``update(pred_logits, teacher_logits, labels)``: (B, K, H, W) logits of the model under test and of the RGB
    teacher on the clean frame (at the labels' resolution), and (B, H, W) int64 ground truth (``void_index`` not
    counted; None for unlabelled data). ``compute()`` returns percentages: ``miou_agree``, ``pixel_agree``,
    ``gt_miou``, ``gt_pixel_acc``, ``iou_<class name>`` for each class, ``n_frames`` and ``n_pixels`` (the
    agreement's pixel count).

    Args:
        class_names: K names (for the per-class keys).
        void_index: ground-truth value left out of the GT metrics.
    """

    def __init__(self, class_names: list[str] | tuple[str, ...], void_index: int) -> None:
        super().__init__()
        k = len(class_names)
        self.class_names = list(class_names)
        self.agree = MulticlassConfusionMatrix(k, validate_args=False)
        self.gt = MulticlassConfusionMatrix(k, ignore_index=int(void_index), validate_args=False)
        self.frames = SumMetric()

    def update(self, pred_logits: torch.Tensor, teacher_logits: torch.Tensor | None,
               labels: torch.Tensor | None) -> None:
        pred = pred_logits.argmax(dim=1)
        if teacher_logits is not None:
            self.agree.update(pred.flatten(), teacher_logits.argmax(dim=1).flatten())
        if labels is not None:
            self.gt.update(pred.flatten(), labels.long().flatten())
        self.frames.update(float(pred.shape[0]))

    def reset(self) -> None:
        self.agree.reset()
        self.gt.reset()
        self.frames.reset()

    def compute(self) -> dict:
        out: dict = {}
        # compute() on every rank (it gathers over DDP ranks; a rank without frames still takes part)
        cm = self.agree.compute()
        if int(cm.sum()) > 0:
            _, miou, acc = iou_from_confusion(cm)
            out.update(miou_agree=round(100 * float(miou), 2), pixel_agree=round(100 * float(acc), 2),
                       n_pixels=int(cm.sum()))
        cm = self.gt.compute()
        if int(cm.sum()) > 0:
            iou, miou, acc = iou_from_confusion(cm)
            out.update(gt_miou=round(100 * float(miou), 2), gt_pixel_acc=round(100 * float(acc), 2))
            out.update({f"iou_{n}": (None if torch.isnan(v) else round(100 * float(v), 2))
                        for n, v in zip(self.class_names, iou)})
        out["n_frames"] = int(self.frames.compute())
        return out
