import math

import pytest
import torch

from rawvision.metrics.detection import coco_ap, coco_map_metric, coco_metric_inputs, summarize_map


def _t(boxes, labels):
    return {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4), "labels": torch.tensor(labels)}


def _p(boxes, scores, labels):
    d = _t(boxes, labels)
    d["scores"] = torch.tensor(scores, dtype=torch.float32)
    return d


TARGETS = [
    _t([[10, 10, 60, 50], [100, 80, 180, 200]], [1, 2]),
    _t([[0, 0, 40, 40], [50, 60, 150, 100], [200, 10, 260, 90]], [2, 2, 3]),
]


def _shift_half(t):
    b = t["boxes"].clone()
    w = b[:, 2] - b[:, 0]
    b[:, [0, 2]] += w[:, None] / 2  # IoU with the truth = (w/2 h) / (3/2 w h) = 1/3
    return {"boxes": b, "labels": t["labels"], "scores": torch.linspace(0.9, 0.5, len(b))}


def test_perfect_predictions_give_ap_one():
    preds = [{**t, "scores": torch.full((len(t["labels"]),), 0.9)} for t in TARGETS]
    r = coco_ap(preds, TARGETS)
    assert r["AP"] == pytest.approx(1.0) and r["AP50"] == pytest.approx(1.0) and r["AP75"] == pytest.approx(1.0)
    assert r["AR100"] == pytest.approx(1.0)


def test_half_box_shift_lowers_ap50():
    perfect = coco_ap([{**t, "scores": torch.full((len(t["labels"]),), 0.9)} for t in TARGETS], TARGETS)
    shifted = coco_ap([_shift_half(t) for t in TARGETS], TARGETS)
    assert shifted["AP50"] < perfect["AP50"]
    assert shifted["AP50"] == 0.0 and shifted["AP"] == 0.0  # IoU 1/3 < 0.5 everywhere
    # a fifth-of-a-box shift: IoU (4/5) / (6/5) = 2/3 -> true positive at IoU 0.50 .. 0.65 (4 of 10 thresholds)
    fifth = []
    for t in TARGETS:
        b = t["boxes"].clone()
        b[:, [0, 2]] += (b[:, 2] - b[:, 0])[:, None] / 5
        fifth.append({"boxes": b, "labels": t["labels"], "scores": torch.full((len(b),), 0.8)})
    q = coco_ap(fifth, TARGETS)
    assert q["AP50"] == pytest.approx(1.0) and q["AP75"] == 0.0
    assert q["AP"] == pytest.approx(0.4, abs=1e-6)


def test_empty_predictions_give_zero():
    empty = [_p([], [], []) for _ in TARGETS]
    r = coco_ap(empty, TARGETS)
    assert r["AP"] == 0.0 and r["AP50"] == 0.0 and r["AP75"] == 0.0 and r["AR100"] == 0.0


def test_hand_computed_ranking_uses_101_point_interpolation():
    # 2 objects; ranked detections: hit (0.9), false positive (0.8), hit (0.7).
    # Precision/recall: (1, 0.5), (0.5, 0.5), (2/3, 1). Interpolated precision = 1 for recall <= 0.5 (51 of the
    # 101 COCO recall points), 2/3 above (50 points): AP = (51 + 50 * 2/3) / 101 = 0.83498. (VOC 11-point would
    # give (6 + 5 * 2/3) / 11 = 0.8485.) The boxes match exactly, so AP = AP50 = AP75.
    t = [_t([[0, 0, 100, 100], [200, 200, 300, 300]], [1, 1])]
    p = [_p([[0, 0, 100, 100], [400, 400, 500, 500], [200, 200, 300, 300]], [0.9, 0.8, 0.7], [1, 1, 1])]
    r = coco_ap(p, t)
    expected = (51 + 50 * 2 / 3) / 101
    assert r["AP"] == pytest.approx(expected, abs=1e-6)
    assert r["AP50"] == pytest.approx(expected, abs=1e-6) and r["AP75"] == pytest.approx(expected, abs=1e-6)
    assert abs(r["AP"] - (6 + 5 * 2 / 3) / 11) > 0.01
    assert r["AR1"] == pytest.approx(0.5) and r["AR100"] == pytest.approx(1.0)


def test_hand_computed_iou_thresholds():
    # IoU 0.62: a hit at the thresholds 0.50, 0.55, 0.60 (3 of 10) -> AP 0.3, AP50 1, AP75 0
    t = [_t([[0, 0, 100, 100]], [1])]
    p = [_p([[0, 0, 100, 62]], [0.9], [1])]
    r = coco_ap(p, t, class_metrics=True)
    assert r["AP"] == pytest.approx(0.3, abs=1e-6)
    assert r["AP50"] == pytest.approx(1.0) and r["AP75"] == 0.0
    assert r["AP_per_class"] == {1: pytest.approx(0.3, abs=1e-6)}
    assert r["APl"] == pytest.approx(0.3, abs=1e-6) and math.isnan(r["APs"]) and math.isnan(r["APm"])


def test_wrong_label_is_a_miss_and_classes_average():
    t = [_t([[0, 0, 100, 100], [200, 0, 300, 100]], [1, 2])]
    p = [_p([[0, 0, 100, 100], [200, 0, 300, 100]], [0.9, 0.9], [1, 3])]
    r = coco_ap(p, t, class_metrics=True)
    # class 1 AP 1, class 2 AP 0 (missed), class 3 has no ground truth (excluded): mean 0.5
    assert r["AP"] == pytest.approx(0.5)
    assert r["AP_per_class"][1] == pytest.approx(1.0) and r["AP_per_class"][2] == 0.0


def test_crowd_regions_are_ignored():
    t = [{**_t([[0, 0, 100, 100]], [1]), "crowd_boxes": torch.tensor([[200.0, 0, 300, 100]]),
          "crowd_labels": torch.tensor([1])}]
    # a detection on the crowd region is neither a hit nor a false positive
    p = [_p([[200, 0, 300, 100], [0, 0, 100, 100]], [0.95, 0.9], [1, 1])]
    assert coco_ap(p, t)["AP"] == pytest.approx(1.0)
    t_plain = [_t([[0, 0, 100, 100]], [1])]
    assert coco_ap(p, t_plain)["AP"] < 0.9  # without the crowd flag the same detection is a false positive
    _, tt = coco_metric_inputs(p, t)
    assert tt[0]["iscrowd"].tolist() == [0, 1] and tt[0]["boxes"].shape == (2, 4)


def test_accumulating_metric_matches_one_shot():
    preds = [_shift_half(TARGETS[0]), {**TARGETS[1], "scores": torch.full((3,), 0.7)}]
    m = coco_map_metric()
    for p, t in zip(preds, TARGETS):
        m.update(*coco_metric_inputs([p], [t]))
    assert summarize_map(m.compute()) == pytest.approx(coco_ap(preds, TARGETS), nan_ok=True)


def test_bad_inputs():
    with pytest.raises(ValueError, match="predictions for 1 images and targets for 2"):
        coco_ap([_p([], [], [])], TARGETS)
    with pytest.raises(ValueError, match="prediction 0 lacks 'scores'"):
        coco_ap([TARGETS[0]], TARGETS[:1])
    with pytest.raises(ValueError, match="2 boxes, 1 scores"):
        coco_ap([{**TARGETS[0], "scores": torch.tensor([0.5])}], TARGETS[:1])
