"""Weights are loaded by key name only: lukemelas' names mapped onto timm's, then ``strict=True``; never by position."""

import importlib.util
from collections import OrderedDict

import pytest
import torch

import rawvision  # noqa: F401  (torchvision compatibility before timm)
from rawvision.models import build_classifier, build_detector
from rawvision.models import weights as wmod
from rawvision.models.weights import (
    LITE_WEIGHTS,
    EfficientNetLiteWeights,
    WeightsError,
    load_state_dict_by_name,
    lukemelas_to_timm,
    sha256_of,
)

X = torch.rand(2, 3, 96, 96, generator=torch.Generator().manual_seed(0))  # a fixed input


def _by_order(model, state_dict):
    """The loader rawvision had before (deleted): the i-th file entry onto the model's i-th entry. Reference only."""
    target = model.state_dict()
    assert len(target) == len(state_dict)
    mapped = {}
    for (tk, tv), sv in zip(target.items(), state_dict.values()):
        assert tv.shape == sv.shape
        mapped[tk] = sv
    model.load_state_dict(mapped, strict=True)


def _timm(w: EfficientNetLiteWeights):
    import timm

    return timm.create_model(w.meta.arch, pretrained=False).eval()


def _installed(w: EfficientNetLiteWeights) -> bool:
    return importlib.util.find_spec(w.meta.module) is not None


@pytest.mark.parametrize("w", list(EfficientNetLiteWeights), ids=lambda w: w.meta.name)
def test_name_mapping_equals_the_old_order_and_gives_the_same_logits(w):
    if not _installed(w):
        pytest.skip(f"{w.meta.package} is not installed (only Lite0 is a dependency)")
    p = w.path()
    assert p.name == w.meta.filename and len(w.meta.sha256) == 64
    assert sha256_of(p) == w.meta.sha256 and p.stem.endswith("-" + w.meta.sha256[:8])
    sd = w.get_state_dict()
    net = _timm(w)
    mapped = lukemelas_to_timm(sd, net, w.meta.filename)
    by_order = dict(zip(net.state_dict(), sd.values()))
    assert list(mapped) == list(by_order)  # every key lands where the order put it: same names, same tensors
    assert all(mapped[k] is by_order[k] for k in mapped)
    ref = _timm(w)
    _by_order(ref, sd)
    clf = build_classifier(w.meta.name)
    with torch.no_grad():
        logits, feats = clf(X)
        assert torch.equal(logits, ref(clf.preprocess(X)))  # bit-identical to the old loading
        assert torch.equal(feats, ref.forward_head(ref.forward_features(clf.preprocess(X)), pre_logits=True))


def test_pinned_digests_are_full():
    for w in EfficientNetLiteWeights:
        assert len(w.meta.sha256) == 64 and int(w.meta.sha256, 16) >= 0
        assert w.meta.filename == f"{w.meta.name.replace('_', '-')}-{w.meta.sha256[:8]}.pth"


def test_swapped_same_shape_batchnorm_entries_load_correctly(tmp_path, lite0):
    sd = EfficientNetLiteWeights.LITE0_IMAGENET1K.get_state_dict()
    keys = list(sd)
    i, j = keys.index("_bn0.running_mean"), keys.index("_bn0.running_var")  # both (32,)
    k, m = keys.index("_blocks.0._bn1.weight"), keys.index("_blocks.0._bn1.bias")
    keys[i], keys[j], keys[k], keys[m] = keys[j], keys[i], keys[m], keys[k]
    swapped = OrderedDict((key, sd[key]) for key in keys)  # entries reordered, each still under its own key
    p = tmp_path / "swapped.pth"
    torch.save(swapped, p)
    clf = build_classifier("efficientnet_lite0", weights=str(p))
    for name, t in lite0.net.state_dict().items():
        assert torch.equal(clf.net.state_dict()[name], t), name
    with torch.no_grad():
        assert torch.equal(clf(X)[0], lite0(X)[0])
    wrong = _timm(EfficientNetLiteWeights.LITE0_IMAGENET1K)
    _by_order(wrong, swapped)  # what loading by position did with this file: no error, wrong numbers
    assert torch.equal(wrong.bn1.running_mean, sd["_bn0.running_var"])
    assert not torch.equal(wrong.bn1.running_mean, lite0.net.bn1.running_mean)


def _write(tmp_path, sd, name="w.pth"):
    p = tmp_path / name
    torch.save(sd, p)
    return p


@pytest.mark.parametrize(
    "edit,match",
    [
        (lambda sd: sd.update({"_bn0.gamma": sd.pop("_bn0.weight")}), r"key '_bn0\.gamma' has no timm name"),
        (lambda sd: sd.pop("_fc.bias"), r"missing key 'classifier\.bias'"),
        (lambda sd: sd.update({"_blocks.16._bn0.weight": torch.ones(3)}), r"key '_blocks\.16\._bn0\.weight'"),
        (lambda sd: sd.update({"_blocks.0._expand_conv.weight": torch.ones(3)}), "DepthwiseSeparableConv"),
        (lambda sd: sd.update({"_fc.weight": sd["_fc.weight"][:10]}),
         r"key 'classifier\.weight' \(the file's '_fc\.weight'\) has shape \(10, 1280\), the model's \(1000, 1280\)"),
        (lambda sd: sd.update({"conv_stem.weight": sd["_conv_stem.weight"]}), "not a lukemelas EfficientNet key"),
    ],
    ids=["renamed", "missing", "extra_block", "wrong_block_kind", "shape", "mixed_names"],
)
def test_lukemelas_file_that_does_not_fit_is_refused(tmp_path, edit, match):
    sd = EfficientNetLiteWeights.LITE0_IMAGENET1K.get_state_dict()
    edit(sd)
    p = _write(tmp_path, sd)
    with pytest.raises(WeightsError, match=match) as e:
        build_classifier("efficientnet_lite0", weights=str(p))
    assert str(p) in str(e.value) and "\n" not in str(e.value)


def test_timm_named_file_loads_by_name_in_any_order(tmp_path, lite0):
    sd = lite0.net.state_dict()
    p = _write(tmp_path, OrderedDict(reversed(list(sd.items()))))
    clf = build_classifier("efficientnet_lite0", weights=str(p))
    with torch.no_grad():
        assert torch.equal(clf(X)[0], lite0(X)[0])
    sd = OrderedDict(sd)
    sd["bn1.gamma"] = sd.pop("bn1.weight")
    with pytest.raises(WeightsError, match=r"unexpected key 'bn1\.gamma'"):
        build_classifier("efficientnet_lite0", weights=str(_write(tmp_path, sd)))


def test_torchvision_file_is_loaded_by_name_only(tmp_path):
    import torchvision

    src = torchvision.models.resnet18(weights=None).eval()
    sd = src.state_dict()
    p = _write(tmp_path, OrderedDict(reversed(list(sd.items()))), "r18.pth")
    clf = build_classifier("resnet18", weights=str(p))
    with torch.no_grad():
        assert torch.equal(clf.net.bn1.running_var, src.bn1.running_var)
        assert torch.equal(clf(X)[0], src(clf.preprocess(X)))
    renamed = OrderedDict((k.replace("layer1", "stage1"), v) for k, v in sd.items())  # same shapes, same order
    with pytest.raises(WeightsError, match=r"r18\.pth: unexpected key 'stage1\.0\.conv1\.weight'") as e:
        build_classifier("resnet18", weights=str(_write(tmp_path, renamed, "r18.pth")))
    assert "\n" not in str(e.value)


def test_unreadable_or_non_dict_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="bad.pth is not a readable PyTorch state dict") as e:
        build_classifier("efficientnet_lite0", weights=str(bad))
    assert "\n" not in str(e.value)
    with pytest.raises(WeightsError, match="holds a list, not a state dict"):
        build_classifier("efficientnet_lite0", weights=str(_write(tmp_path, [torch.ones(1)], "list.pth")))


def test_missing_num_batches_tracked_is_tolerated(lite0):
    sd = {k: v for k, v in lite0.net.state_dict().items() if not k.endswith("num_batches_tracked")}
    net = _timm(EfficientNetLiteWeights.LITE0_IMAGENET1K)
    load_state_dict_by_name(net, sd, "x")
    assert torch.equal(net.bn1.running_var, lite0.net.bn1.running_var)


def test_weights_member_as_argument(lite0):
    clf = build_classifier("efficientnet_lite0", weights=EfficientNetLiteWeights.LITE0_IMAGENET1K)
    with torch.no_grad():
        assert torch.equal(clf(X)[0], lite0(X)[0])


def test_no_loading_by_position_is_left():
    assert not hasattr(wmod, "load_state_dict_by_order")


def test_one_copy_of_the_lite_facts():
    from rawvision.models import available_classifiers
    from rawvision.models import detectors as dmod

    assert list(LITE_WEIGHTS) == ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]
    assert available_classifiers()[:3] == list(LITE_WEIGHTS)
    assert not any(hasattr(dmod, n) for n in ("LITE_MEAN", "LITE_STD", "_LITE_ARCH"))
    for name, w in LITE_WEIGHTS.items():
        assert w.meta.mean == pytest.approx((127 / 255,) * 3) and w.meta.std == pytest.approx((128 / 255,) * 3)
        assert dmod.lite_backbone_net(name, pretrained=False).default_cfg["architecture"] == w.meta.arch
    det = build_detector("fcos", 2, backbone="efficientnet_lite1", pretrained_backbone=False, min_size=64,
                         max_size=64, fpn_channels=32)
    meta = LITE_WEIGHTS["efficientnet_lite1"].meta
    assert det.detector.transform.image_mean == list(meta.mean) and det.detector.transform.image_std == list(meta.std)
