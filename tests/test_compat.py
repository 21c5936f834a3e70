import torch

from rawvision import _compat


def brute_force_nms(boxes, scores, thr):
    order = sorted(range(len(scores)), key=lambda i: -float(scores[i]))
    keep = []
    for i in order:
        ok = True
        for j in keep:
            a, b = boxes[i], boxes[j]
            iw = max(0.0, float(min(a[2], b[2]) - max(a[0], b[0])))
            ih = max(0.0, float(min(a[3], b[3]) - max(a[1], b[1])))
            inter = iw * ih
            union = float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])) - inter
            if inter / union > thr:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


def _boxes(n, seed):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 100
    wh = torch.rand(n, 2, generator=g) * 40 + 1
    return torch.cat([xy, xy + wh], 1), torch.rand(n, generator=g)


def test_torchvision_and_dependents_import():
    import lightning  # noqa: F401
    import timm  # noqa: F401
    import torchmetrics  # noqa: F401
    import torchvision

    assert torchvision.models.get_model("resnet18", weights=None).eval()(torch.zeros(1, 3, 32, 32)).shape == (1, 1000)
    assert _compat.install() in (True, False)  # idempotent


def test_nms_matches_brute_force():
    import torchvision

    for seed, thr in [(0, 0.5), (1, 0.3), (2, 0.7)]:
        boxes, scores = _boxes(60, seed)
        want = brute_force_nms(boxes, scores, thr)
        assert _compat.nms_reference(boxes, scores, thr).tolist() == want
        assert torchvision.ops.nms(boxes, scores, thr).tolist() == want


def test_batched_nms_per_class():
    import torchvision

    boxes, scores = _boxes(40, 3)
    idxs = torch.arange(40) % 3
    got = set(torchvision.ops.batched_nms(boxes, scores, idxs, 0.5).tolist())
    want = set()
    for c in range(3):
        sel = (idxs == c).nonzero().flatten()
        want |= {int(sel[k]) for k in brute_force_nms(boxes[sel], scores[sel], 0.5)}
    assert got == want


def test_nms_empty():
    assert _compat.nms_reference(torch.zeros(0, 4), torch.zeros(0), 0.5).numel() == 0
