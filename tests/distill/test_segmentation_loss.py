"""Eq. 8 (per-location ISP Distillation) against hand-computed values, and its 1x1 case against classification KD."""

import math

import pytest
import torch

from rawvision.distill import isp_distillation_loss, kd_loss, segmentation_distillation_loss


def _softmax(v):
    e = [math.exp(x) for x in v]
    return [x / sum(e) for x in e]


def test_eq8_hand_value_with_void():
    # B=1, K=2, a 1x3 map; location 2 is void in the ground truth
    s = torch.tensor([[[[1.0, 0.0, 2.0]], [[0.0, 1.0, 0.0]]]])
    t = torch.tensor([[[[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]]]])
    labels = torch.tensor([[[0, 1, 7]]])  # 7 = void
    alpha, T, void = 0.25, 2.0, 7
    out = segmentation_distillation_loss(s, t, labels, alpha=alpha, temperature=T, beta=0.0, void_index=void)
    sv = [[1.0, 0.0], [0.0, 1.0], [2.0, 0.0]]
    tv = [[0.0, 1.0], [0.0, 0.0], [1.0, 0.0]]
    ce = [-math.log(_softmax(sv[0])[0]), -math.log(_softmax(sv[1])[1])]  # void location left out
    kd = []
    for a, b in zip(sv, tv):
        p, q = _softmax([x / T for x in b]), _softmax([x / T for x in a])
        kd.append(T * T * sum(pi * math.log(pi / qi) for pi, qi in zip(p, q)))
    want_ce, want_kd = sum(ce) / 2, sum(kd) / 3  # CE over non-void locations, KD over all N = 3
    assert float(out["ce"]) == pytest.approx(want_ce, abs=1e-6)
    assert float(out["kd"]) == pytest.approx(want_kd, abs=1e-6)
    assert float(out["loss"]) == pytest.approx(alpha * want_ce + (1 - alpha) * want_kd, abs=1e-6)


def test_hard_labels_are_the_teachers_argmax_per_location():
    g = torch.Generator().manual_seed(3)
    s, t = torch.randn(2, 3, 2, 2, generator=g), torch.randn(2, 3, 2, 2, generator=g)
    out = segmentation_distillation_loss(s, t, alpha=1.0)
    want = torch.nn.functional.cross_entropy(s, t.argmax(1))
    assert float(out["ce"]) == pytest.approx(float(want), rel=1e-6)
    wrong = torch.nn.functional.cross_entropy(s, (t.argmax(1) + 1) % 3)
    assert abs(float(want) - float(wrong)) > 1e-3  # the labels matter


def test_all_void_batch_gives_zero_ce_not_nan():
    s = torch.randn(1, 2, 2, 2, requires_grad=True)
    out = segmentation_distillation_loss(s, s.detach(), torch.full((1, 2, 2), 5), alpha=1.0, void_index=5)
    assert float(out["loss"]) == 0.0
    out["loss"].backward()
    assert torch.isfinite(s.grad).all()


def test_1x1_map_equals_classification_kd():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(5, 10, generator=g), torch.randn(5, 10, generator=g)
    fs, ft = torch.randn(5, 8, generator=g), torch.randn(5, 8, generator=g)
    dense = segmentation_distillation_loss(s[..., None, None], t[..., None, None], None, fs[..., None, None],
                                           ft[..., None, None], alpha=0.3, temperature=4.0, beta=0.5)
    cls = isp_distillation_loss(s, t, None, fs, ft, alpha=0.3, temperature=4.0, beta=0.5)
    for k in ("loss", "ce", "kd", "feat"):
        assert float(dense[k]) == pytest.approx(float(cls[k]), rel=1e-6)
    assert float(dense["kd"]) == pytest.approx(float(kd_loss(s, t, 4.0)), rel=1e-6)


def test_full_resolution_labels_score_upsampled_logits():
    s = torch.randn(2, 4, 3, 4, requires_grad=True)
    t = torch.randn(2, 4, 3, 4)
    labels = torch.randint(0, 4, (2, 24, 32))
    out = segmentation_distillation_loss(s, t, labels, alpha=1.0)
    up = torch.nn.functional.interpolate(s, size=(24, 32), mode="bilinear", align_corners=False)
    assert float(out["ce"]) == pytest.approx(float(torch.nn.functional.cross_entropy(up, labels).detach()), rel=1e-6)
    out["loss"].backward()
    assert s.grad is not None


def test_classification_loss_unchanged_by_the_dense_form():
    """isp_distillation_loss on (B, K) logits equals the formula written out (the pre-segmentation code path)."""
    g = torch.Generator().manual_seed(1)
    s, t = torch.randn(6, 7, generator=g), torch.randn(6, 7, generator=g)
    labels = torch.tensor([0, 1, -1, 3, 4, 6])
    out = isp_distillation_loss(s, t, labels, alpha=0.4, temperature=3.0, beta=0.0)
    ce = torch.nn.functional.cross_entropy(s, labels, ignore_index=-1)
    lp, lq = torch.log_softmax(t / 3, -1), torch.log_softmax(s / 3, -1)
    kd = (lp.exp() * (lp - lq)).sum(-1).mean() * 9
    assert float(out["loss"]) == pytest.approx(float(0.4 * ce + 0.6 * kd), rel=1e-6)


@pytest.mark.parametrize("bad", [dict(s=(1, 2, 2, 2), t=(1, 2, 2, 3)), dict(s=(2, 3), t=(2, 3))])
def test_bad_shapes(bad):
    with pytest.raises(ValueError, match="segmentation logits"):
        segmentation_distillation_loss(torch.zeros(bad["s"]), torch.zeros(bad["t"]))


def test_labels_smaller_than_logits():
    with pytest.raises(ValueError, match="smaller than the logits"):
        segmentation_distillation_loss(torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 2).long())
