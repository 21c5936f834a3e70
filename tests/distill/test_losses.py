import math

import pytest
import torch

from rawvision.distill import feature_loss, isp_distillation_loss, kd_loss


def test_kd_loss_hand_computed_with_temperature():
    s = torch.tensor([[1.0, 2.0, 0.0]])
    t = torch.tensor([[3.0, 1.0, 0.0]])
    T = 4.0

    def softmax(v):
        e = [math.exp(x / T) for x in v]
        return [x / sum(e) for x in e]

    p, q = softmax([3.0, 1.0, 0.0]), softmax([1.0, 2.0, 0.0])
    want = T * T * sum(pi * (math.log(pi) - math.log(qi)) for pi, qi in zip(p, q))
    assert kd_loss(s, t, T).item() == pytest.approx(want, rel=1e-6)
    # temperature matters: T = 1 gives a different value
    p1 = [math.exp(x) / sum(math.exp(y) for y in [3, 1, 0]) for x in [3, 1, 0]]
    q1 = [math.exp(x) / sum(math.exp(y) for y in [1, 2, 0]) for x in [1, 2, 0]]
    want1 = sum(a * (math.log(a) - math.log(b)) for a, b in zip(p1, q1))
    assert kd_loss(s, t, 1.0).item() == pytest.approx(want1, rel=1e-6)
    assert kd_loss(t, t, T).item() == pytest.approx(0.0, abs=1e-7)


def test_kd_is_batch_mean():
    s, t = torch.randn(5, 10), torch.randn(5, 10)
    per = torch.stack([kd_loss(s[i : i + 1], t[i : i + 1], 2.0) for i in range(5)])
    assert kd_loss(s, t, 2.0).item() == pytest.approx(per.mean().item(), rel=1e-5)


def test_full_loss_combines_terms():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(4, 7, generator=g), torch.randn(4, 7, generator=g)
    fs, ft = torch.randn(4, 5, generator=g), torch.randn(4, 5, generator=g)
    out = isp_distillation_loss(s, t, None, fs, ft, alpha=0.9, temperature=4.0, beta=0.5)
    ce = torch.nn.functional.cross_entropy(s, t.argmax(1))
    kd = kd_loss(s, t, 4.0)
    l2 = ((fs - ft) ** 2).mean()
    assert out["loss"].item() == pytest.approx((0.9 * ce + 0.1 * (kd + 0.5 * l2)).item(), rel=1e-6)
    assert feature_loss(fs, ft).item() == pytest.approx(l2.item(), rel=1e-6)
    # alpha = 1: CE only on the given labels (ignore_index -1)
    labels = torch.tensor([1, -1, 3, 0])
    ce_gt = isp_distillation_loss(s, t, labels, alpha=1.0)["loss"]
    keep = labels >= 0
    assert ce_gt.item() == pytest.approx(torch.nn.functional.cross_entropy(s[keep], labels[keep]).item(), rel=1e-6)
    # beta = 0 needs no features
    assert isp_distillation_loss(s, t, alpha=0.9, beta=0.0)["feat"].item() == 0


@pytest.mark.parametrize("kw,msg", [({"alpha": 1.5}, "alpha"), ({"beta": -1}, "beta"), ({"temperature": 0}, "temperature")])
def test_bad_weights(kw, msg):
    s = torch.randn(2, 3)
    with pytest.raises(ValueError, match=msg):
        isp_distillation_loss(s, s, None, s, s, **kw)


def test_missing_features_when_needed():
    with pytest.raises(ValueError, match="needs student_features"):
        isp_distillation_loss(torch.randn(2, 3), torch.randn(2, 3), beta=1.0)
