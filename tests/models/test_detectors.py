import inspect
import math

import pytest
import torch
from torch import nn

import rawvision  # noqa: F401  (torchvision NMS on a CPU-only torch)
from rawvision.models.detectors import EfficientNetLiteFPN, FrontEndDetector, build_detector

C = 6


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread for this file: on the shared 2-core machine, 2 OpenMP threads competing with other
    processes made these conv-heavy tests ~8x slower (30 s vs 3.4 s measured); restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


FAST = dict(pretrained_backbone=False, min_size=128, max_size=128, fpn_channels=64)  # random weights: speed only


class TinyFrontEnd(nn.Module):
    """A 1x1 colour mix + sigmoid: [0, 1] in, [0, 1] out; records what it sees."""

    def __init__(self):
        super().__init__()
        self.mix = nn.Conv2d(3, 3, 1)
        with torch.no_grad():
            self.mix.weight.copy_(torch.eye(3).view(3, 3, 1, 1) * 4)
            self.mix.bias.fill_(-2)
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return torch.sigmoid(self.mix(x))


def _targets():
    return [
        {"boxes": torch.tensor([[10.0, 20.0, 60.0, 90.0]]), "labels": torch.tensor([2])},
        {"boxes": torch.tensor([[30.0, 30.0, 100.0, 120.0], [0.0, 0.0, 24.0, 20.0]]), "labels": torch.tensor([1, C])},
    ]


def test_backbone_levels_channels_strides():
    det = build_detector("retinanet", C, pretrained_backbone=False, min_size=128, max_size=128)
    body = det.detector.backbone
    assert isinstance(body, EfficientNetLiteFPN)
    assert body.in_channels == [40, 112, 320] and body.strides == [8, 16, 32]
    with torch.no_grad():
        feats = body(torch.rand(1, 3, 128, 128))
    assert list(feats) == ["0", "1", "2", "p6", "p7"]  # torchvision names P6, P7 so
    assert [tuple(f.shape[-2:]) for f in feats.values()] == [(16, 16), (8, 8), (4, 4), (2, 2), (1, 1)]
    assert {f.shape[1] for f in feats.values()} == {256}
    assert det.detector.head.classification_head.num_classes == C + 1


def test_pretrained_is_the_default():
    assert inspect.signature(build_detector).parameters["pretrained_backbone"].default is True


def test_normalisation_applied_once_and_front_end_sees_unit_range():
    fe = TinyFrontEnd()
    det = build_detector("fcos", C, front_end=fe, **dict(FAST, min_size=64, max_size=64)).eval()
    seen = {}
    det.detector.backbone.register_forward_pre_hook(lambda m, args: seen.setdefault("x", args[0].detach().clone()))
    x = torch.rand(2, 3, 64, 64)  # already at min_size: the transform does not resize
    with torch.no_grad():
        det(x)
    assert torch.equal(fe.seen[0], x)  # the front end gets the [0, 1] input as given, batched
    rgb = torch.sigmoid(fe.mix(x)).detach()
    torch.testing.assert_close(seen["x"], (255 * rgb - 127) / 128, atol=1e-5, rtol=1e-5)
    tr = det.detector.transform
    assert tr.image_mean == pytest.approx([127 / 255] * 3) and tr.image_std == pytest.approx([128 / 255] * 3)


@pytest.mark.parametrize("name,frozen", [("retinanet", False), ("fcos", True)])
def test_train_losses_finite_and_gradients_reach_front_end(name, frozen):
    torch.manual_seed(0)
    fe = TinyFrontEnd()
    # 128x128 inputs resized to 96x96 by the detector's transform (boxes scaled with them)
    det = build_detector(name, C, front_end=fe, **dict(FAST, min_size=96, max_size=96)).train()
    if frozen:  # a fixed detector: the gradient still flows through it to the front end
        det.detector.requires_grad_(False)
    losses = det([torch.rand(3, 128, 128), torch.rand(3, 128, 128)], _targets())
    expect = {"classification", "bbox_regression"} | ({"bbox_ctrness"} if name == "fcos" else set())
    assert set(losses) == expect
    assert all(v.ndim == 0 and math.isfinite(float(v)) and float(v) > 0 for v in losses.values())
    sum(losses.values()).backward()
    for p in fe.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and float(p.grad.abs().sum()) > 0
    stem = det.detector.backbone.conv_stem.weight
    assert (stem.grad is None) if frozen else float(stem.grad.abs().sum()) > 0


def test_eval_outputs_boxes_in_input_pixels():
    fe = TinyFrontEnd()
    det = build_detector("retinanet", C, front_end=fe, **FAST, score_thresh=0.0, detections_per_img=25,
                         topk_candidates=100).eval()
    images = [torch.rand(3, 128, 128), torch.rand(3, 96, 64)]  # different sizes: front end per image
    with torch.no_grad():
        out = det(images)
    assert [tuple(s.shape) for s in fe.seen] == [(1, 3, 128, 128), (1, 3, 96, 64)]
    assert len(out) == 2
    for o, im in zip(out, images):
        assert set(o) == {"boxes", "labels", "scores"}
        k = o["boxes"].shape[0]
        assert 0 < k <= 25 and o["boxes"].shape == (k, 4) and o["labels"].shape == o["scores"].shape == (k,)
        assert o["labels"].dtype == torch.int64 and 1 <= int(o["labels"].min()) and int(o["labels"].max()) <= C
        b = o["boxes"]
        assert (b[:, 0] >= 0).all() and (b[:, 1] >= 0).all()
        assert (b[:, 2] <= im.shape[2] + 1e-3).all() and (b[:, 3] <= im.shape[1] + 1e-3).all()
        assert (o["scores"][:-1] >= o["scores"][1:]).all()  # NMS output in decreasing score


def test_eval_drops_background_channel():
    det = build_detector("fcos", C, **FAST, score_thresh=0.0, detections_per_img=300,
                         topk_candidates=40).eval()
    with torch.no_grad():  # make the background channel (index 0) score high on half of the locations
        det.detector.head.classification_head.cls_logits.bias[0] = 0.0
        x = [torch.rand(3, 128, 128)]
        raw = det.detector(x)[0]
        out = det(x)[0]
    assert (raw["labels"] == 0).any() and (raw["labels"] > 0).any()
    keep = raw["labels"] > 0
    for k in ("boxes", "labels", "scores"):
        assert torch.equal(out[k], raw[k][keep])


# torchvision.ops.nms / batched_nms on this CPU build (rawvision._compat's kernel) are checked against a brute-force
# NMS in tests/test_compat.py; the eval-mode tests above run them inside the detectors.


def test_errors():
    with pytest.raises(ValueError, match="unknown detector 'yolo'"):
        build_detector("yolo", C, pretrained_backbone=False)
    with pytest.raises(ValueError, match="unknown detector backbone"):
        build_detector("fcos", C, backbone="resnet50", pretrained_backbone=False)
    with pytest.raises(ValueError, match="num_classes must be an int >= 1"):
        build_detector("fcos", 0, pretrained_backbone=False)
    det = build_detector("fcos", C, **dict(FAST, min_size=64, max_size=64))
    bad = [{"boxes": torch.tensor([[1.0, 1.0, 20.0, 20.0]]), "labels": torch.tensor([C + 1])}]
    with pytest.raises(ValueError, match=r"target labels must be in 1..6 \(0 is the background\), got \[7\]"):
        det([torch.rand(3, 64, 64)], bad)
    bad[0]["labels"] = torch.tensor([0])
    with pytest.raises(ValueError, match="got \\[0\\]"):
        det([torch.rand(3, 64, 64)], bad)
    shrink = FrontEndDetector(det.detector, C, nn.AvgPool2d(2))
    with pytest.raises(ValueError, match="same size"):
        shrink([torch.rand(3, 64, 64)])


def test_real_imagenet_backbone_loads_and_runs(lite0):
    det = build_detector("retinanet", C, min_size=128, max_size=128)  # default: the ImageNet backbone
    body = det.detector.backbone
    assert torch.equal(body.conv_stem.weight, lite0.net.conv_stem.weight)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in body.modules())  # frozen, as torchvision does
    # frozen batch norms: the train-mode features equal the ImageNet classifier's eval-mode block outputs
    x = torch.rand(1, 3, 128, 128) * 2 - 1
    feats = []
    hooks = [lite0.net.blocks[i].register_forward_hook(lambda m, a, o: feats.append(o)) for i in (2, 4, 6)]
    with torch.no_grad():
        lite0.net.forward_features(x)
        for h in hooks:
            h.remove()
        det.train()
        y = body.bn1(body.conv_stem(x))
        mine = []
        for i, blk in enumerate(body.blocks):
            y = blk(y)
            if i in (2, 4, 6):
                mine.append(y)
        for a, b in zip(mine, feats):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-3)
        det.eval()
        out = det(torch.rand(1, 3, 128, 128))
    assert len(out) == 1 and set(out[0]) == {"boxes", "labels", "scores"}
