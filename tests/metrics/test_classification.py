import pytest
import torch

from rawvision.metrics import RawClassificationMetrics, confident_mask


def test_confidence_filter_threshold():
    t = torch.log(torch.tensor([[0.85, 0.10, 0.05], [0.80, 0.15, 0.05], [0.5, 0.3, 0.2]]))
    assert confident_mask(t, 0.8).tolist() == [True, False, False]  # strictly above
    assert confident_mask(t, 0.4).tolist() == [True, True, True]
    with pytest.raises(ValueError, match="threshold"):
        confident_mask(t, 1.5)


def test_agreement_and_accuracy_counts():
    K = 10
    teacher = torch.full((4, K), -5.0)
    teacher[0, 1] = teacher[1, 2] = teacher[2, 3] = teacher[3, 4] = 5.0  # 0, 1, 2, 3 confident
    teacher[3, 5] = 5.0  # patch 3: two equal maxima -> not confident, argmax 4
    student = torch.zeros(4, K)
    student[0, 1] = 9  # agrees top-1
    student[1, 7] = 9
    student[1, 2] = 8  # agrees top-5 only
    for c in range(5):  # patch 2: teacher's class 3 not in top-5
        student[2, c + 5] = 9 - c
    student[3, 4] = 9  # agrees top-1
    labels = torch.tensor([1, 0, -1, 4])
    m = RawClassificationMetrics(num_classes=K, threshold=0.8)
    m.update(student, teacher, labels)
    r = m.compute()
    assert r["n_patches"] == 4 and r["n_confident"] == 3 and r["n_labelled"] == 3
    assert r["agree_top1"] == 50.0 and r["agree_top5"] == 75.0
    assert r["conf_agree_top1"] == pytest.approx(33.33) and r["conf_agree_top5"] == pytest.approx(66.67)
    assert r["gt_top1"] == pytest.approx(66.67)  # patches 0 and 3 right, patch 1 wrong
    m.reset()
    m.update(student, teacher, None)
    assert m.compute()["gt_top1"] is None
