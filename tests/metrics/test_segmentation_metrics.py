"""mIoU agreement and GT mIoU against hand-made examples (and torchmetrics' own Jaccard index)."""

import pytest
import torch
from torchmetrics.classification import MulticlassJaccardIndex

from rawvision.metrics import RawSegmentationMetrics, iou_from_confusion


def _logits(mask, k):
    return torch.nn.functional.one_hot(mask, k).permute(0, 3, 1, 2).float()


def test_miou_agreement_hand_example():
    teacher = torch.tensor([[[0, 0, 1, 1], [0, 0, 1, 2]]])
    student = torch.tensor([[[0, 1, 1, 1], [0, 0, 1, 1]]])
    m = RawSegmentationMetrics(["a", "b", "c"], void_index=3)
    m.update(_logits(student, 3), _logits(teacher, 3), None)
    r = m.compute()
    # class 0: TP 3, FP 0, FN 1 -> 3/4; class 1: TP 3, FP 2, FN 0 -> 3/5; class 2: TP 0, FN 1 -> 0
    assert r["miou_agree"] == pytest.approx(100 * (0.75 + 0.6 + 0.0) / 3, abs=0.01)
    assert r["pixel_agree"] == pytest.approx(100 * 6 / 8, abs=0.01)
    assert r["n_pixels"] == 8 and r["n_frames"] == 1
    tm = MulticlassJaccardIndex(3, average="macro")(student.flatten(), teacher.flatten())
    assert r["miou_agree"] == pytest.approx(100 * float(tm), abs=0.01)


def test_gt_metrics_ignore_void_and_absent_classes():
    gt = torch.tensor([[[0, 0, 9, 9], [1, 1, 9, 9]]])  # 9 = void; class 2 absent everywhere
    pred = torch.tensor([[[0, 1, 2, 0], [1, 1, 0, 0]]])
    m = RawSegmentationMetrics(["a", "b", "c"], void_index=9)
    m.update(_logits(pred, 3), None, gt)
    r = m.compute()
    # non-void pixels: gt 0,0,1,1 pred 0,1,1,1 -> class 0: 1/2; class 1: 2/3; class 2 has no IoU
    assert r["gt_miou"] == pytest.approx(100 * (0.5 + 2 / 3) / 2, abs=0.01)
    assert r["iou_c"] is None and r["iou_a"] == pytest.approx(50.0)
    assert r["gt_pixel_acc"] == pytest.approx(75.0)
    assert "miou_agree" not in r


def test_iou_from_confusion_accumulates_over_batches():
    m = RawSegmentationMetrics(["a", "b"], void_index=2)
    t = torch.tensor([[[0, 1]]])
    m.update(_logits(torch.tensor([[[0, 0]]]), 2), _logits(t, 2), None)
    m.update(_logits(torch.tensor([[[1, 1]]]), 2), _logits(t, 2), None)
    cm = torch.tensor([[1, 1], [1, 1]])
    _, miou, acc = iou_from_confusion(cm)
    r = m.compute()
    assert r["miou_agree"] == pytest.approx(100 * float(miou), abs=0.01) and r["pixel_agree"] == 50.0
