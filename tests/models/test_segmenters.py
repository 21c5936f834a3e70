"""Segmentation models by name: shapes, weights files with sha256, class-count mismatch, torchvision names."""

import pytest
import torch

from rawvision.models.segmenters import available_segmenters, build_segmenter, save_segmenter
from rawvision.models.weights import WeightsError


def test_lite_lraspp_shapes_and_imagenet_backbone():
    seg = build_segmenter("lraspp_efficientnet_lite0", "IMAGENET_BACKBONE", num_classes=11)
    logits, feats = seg(torch.rand(1, 3, 96, 128))
    assert logits.shape == (1, 11, 12, 16) and feats.shape == (1, 320, 6, 8)
    assert seg.predict(torch.rand(1, 3, 96, 128)).shape == (1, 11, 96, 128)
    from rawvision.models import build_classifier

    clf = build_classifier("efficientnet_lite0")  # the same ImageNet weights, as a classifier
    assert torch.equal(seg.net.backbone.conv_stem.weight, clf.net.conv_stem.weight)
    assert torch.equal(seg.net.backbone.blocks[6][0].conv_pwl.weight, clf.net.blocks[6][0].conv_pwl.weight)


def test_weights_file_roundtrip_sha_and_class_count(tmp_path):
    seg = build_segmenter("lraspp_efficientnet_lite0", None, num_classes=5)
    sha = save_segmenter(seg, tmp_path / "t.pth")
    back = build_segmenter("lraspp_efficientnet_lite0", tmp_path / "t.pth", num_classes=5, sha256=sha)
    x = torch.rand(1, 3, 64, 64)
    assert torch.equal(seg(x)[0], back(x)[0])
    with pytest.raises(WeightsError, match="sha256 .* does not match"):
        build_segmenter("lraspp_efficientnet_lite0", tmp_path / "t.pth", num_classes=5, sha256="0" * 64)
    with pytest.raises(WeightsError, match="trained for 5 classes, the data has 11"):
        build_segmenter("lraspp_efficientnet_lite0", tmp_path / "t.pth", num_classes=11)
    with pytest.raises(WeightsError, match="not found"):
        build_segmenter("lraspp_efficientnet_lite0", tmp_path / "missing.pth", num_classes=5)


def test_torchvision_segmentation_models_by_name():
    assert "deeplabv3_resnet50" in available_segmenters()
    seg = build_segmenter("lraspp_mobilenet_v3_large", None, num_classes=4)
    logits, feats = seg(torch.rand(1, 3, 64, 64))
    assert logits.shape[:2] == (1, 4) and seg.num_classes == 4
    with pytest.raises(ValueError, match="unknown segmentation model 'segformer'"):
        build_segmenter("segformer", None)
