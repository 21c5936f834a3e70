"""One-stage detectors (torchvision RetinaNet, FCOS) on an ImageNet EfficientNet-Lite backbone, with a RAW front end.

:func:`build_detector` returns a :class:`FrontEndDetector`: ``front_end`` (e.g. TA-ISP: 3-channel demosaiced RAW in
[0, 1] -> RGB in [0, 1]) runs on each image first, then the torchvision detector, whose
``GeneralizedRCNNTransform`` resizes and applies the TF-Lite input normalisation of EfficientNet-Lite,
``(255 x - 127) / 128``, exactly once (``image_mean = 127/255``, ``image_std = 128/255`` on [0, 1] inputs). The
backbone is timm's ``tf_efficientnet_liteN`` with the ImageNet weights of rawvision's loader
(:func:`rawvision.models.build_classifier`), its blocks at strides 8, 16 and 32 (C3, C4, C5) feeding a torchvision
``FeaturePyramidNetwork`` with ``LastLevelP6P7``: P3-P7, the five levels torchvision's RetinaNet and FCOS use.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from rawvision.models.weights import LITE_WEIGHTS, EfficientNetLiteWeights

__all__ = ["DETECTORS", "EfficientNetLiteFPN", "FrontEndDetector", "build_detector", "lite_backbone_net"]

DETECTORS = ("retinanet", "fcos")


def _lite_weights(backbone: str) -> EfficientNetLiteWeights:
    """The Lite entry (timm architecture, weights, TF-Lite mean/std) of a backbone name; ValueError if unknown."""
    key = str(backbone).lower()
    if key not in LITE_WEIGHTS:
        raise ValueError(f"unknown detector backbone {backbone!r}: expected one of {', '.join(LITE_WEIGHTS)}")
    return LITE_WEIGHTS[key]


def lite_backbone_net(backbone: str = "efficientnet_lite0", pretrained: bool = True) -> nn.Module:
    """The timm ``tf_efficientnet_liteN`` classifier network to take the detector's backbone from.

    Args:
        backbone: ``efficientnet_lite0`` / ``_lite1`` / ``_lite2``.
        pretrained: load the ImageNet weights through :func:`rawvision.models.build_classifier` (sha256-checked);
            False gives timm's random initialisation.

    Returns:
        The timm network (``conv_stem``, ``bn1``, ``blocks``, ...), in train mode.

    Raises:
        ValueError: an unknown backbone name.
        WeightsError: ``pretrained`` and the weights file is missing or fails its checksum.

    Example:
        >>> net = lite_backbone_net("efficientnet_lite0", pretrained=False)
        >>> type(net).__name__, [len(stage) for stage in net.blocks], net.training
        ('EfficientNet', [1, 2, 2, 3, 3, 4, 1], True)
    """
    lite = _lite_weights(backbone)
    if pretrained:
        from rawvision.models.classifiers import build_classifier

        return build_classifier(lite.meta.name).net.train()
    import timm

    return timm.create_model(lite.meta.arch, pretrained=False)


class EfficientNetLiteFPN(nn.Module):
    """EfficientNet-Lite features at strides 8, 16, 32 through a Feature Pyramid Network, plus P6 and P7.

    The stem and the blocks up to the last returned one are taken from a timm EfficientNet (the head convolution,
    pooling and classifier are dropped). For Lite0 the returned blocks are ``blocks.2`` (C3: 40 channels, stride
    8), ``blocks.4`` (C4: 112, stride 16) and ``blocks.6`` (C5: 320, stride 32), as timm's ``feature_info`` lists
    them. The FPN (Lin et al. 2017) makes P3-P5 with ``out_channels`` channels, ``LastLevelP6P7`` (Lin et al.
    2017b, RetinaNet Sec. 4) adds P6 and P7 by stride-2 3x3 convolutions on P5, as torchvision's
    ``retinanet_resnet50_fpn`` and ``fcos_resnet50_fpn`` do.

    Args:
        net: a timm EfficientNet (``conv_stem``, ``bn1``, ``blocks``, ``feature_info``).
        out_channels: channels of every pyramid level.
        return_blocks: indices into ``net.blocks`` of C3, C4, C5.
        extra_p6p7: add P6 and P7.

    Input: (B, 3, H, W) float, already normalised for the network. Output: ``OrderedDict`` with keys ``"0"``,
    ``"1"``, ``"2"``, ``"p6"``, ``"p7"`` (torchvision's names) of (B, out_channels, H / s, W / s) for
    s = 8, 16, 32, 64, 128 (ceil).
    """

    def __init__(self, net: nn.Module, out_channels: int = 256, return_blocks: tuple[int, ...] = (2, 4, 6),
                 extra_p6p7: bool = True) -> None:
        super().__init__()
        from torchvision.ops.feature_pyramid_network import FeaturePyramidNetwork, LastLevelP6P7

        info = {f["module"]: f for f in net.feature_info}
        self.return_blocks = tuple(int(i) for i in return_blocks)
        chans, strides = [], []
        for i in self.return_blocks:
            f = info.get(f"blocks.{i}")
            if f is None:
                raise ValueError(f"blocks.{i} is not a feature stage of {type(net).__name__}: {sorted(info)}")
            chans.append(int(f["num_chs"]))
            strides.append(int(f["reduction"]))
        self.in_channels = chans
        self.strides = strides
        self.conv_stem, self.bn1 = net.conv_stem, net.bn1
        self.blocks = nn.Sequential(*list(net.blocks)[: max(self.return_blocks) + 1])
        extra = LastLevelP6P7(out_channels, out_channels) if extra_p6p7 else None
        self.fpn = FeaturePyramidNetwork(chans, out_channels, extra_blocks=extra)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
        """(B, 3, H, W) normalised images -> pyramid levels ``"0", "1", "2", "p6", "p7"`` (P3..P7)."""
        x = self.bn1(self.conv_stem(x))
        feats = OrderedDict()
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.return_blocks:
                feats[str(len(feats))] = x
        return self.fpn(feats)


class FrontEndDetector(nn.Module):
    """A front end (e.g. TA-ISP) followed by a torchvision detector; same calling convention as the detector.

    ``forward(images, targets=None)``: images is a list of (3, H_i, W_i) float tensors in [0, 1] or a (B, 3, H, W)
    tensor (the front end's input, e.g. demosaiced RAW; RGB when there is no front end); targets (train mode) a
    list of dicts with ``boxes`` (N, 4) float ``[x1, y1, x2, y2]`` pixels of the input and ``labels`` (N,) int64
    in 1..C. The front end runs once per batch of equal-size images (per image otherwise) and must keep the image
    size; its output, RGB in [0, 1], goes to the detector, which resizes it to ``min_size``/``max_size``,
    normalises it and maps its boxes back to input pixels.

    Returns:
        train mode: dict of scalar losses (RetinaNet: ``classification``, ``bbox_regression``; FCOS: also
        ``bbox_ctrness``); eval mode: a list of dicts ``boxes`` (K, 4) float ``[x1, y1, x2, y2]`` in input
        pixels, ``labels`` (K,) int64 in 1..C, ``scores`` (K,) float in [0, 1].

    Raises:
        ValueError: a target label outside 1..C, a bad image shape, or a front end that changes the image size.
    """

    def __init__(self, detector: nn.Module, num_classes: int, front_end: nn.Module | None = None) -> None:
        super().__init__()
        self.detector = detector
        self.front_end = front_end
        self.num_classes = int(num_classes)

    def _front(self, images: list[torch.Tensor]) -> list[torch.Tensor]:
        if self.front_end is None:
            return images
        shapes = {tuple(im.shape) for im in images}
        groups = [torch.stack(images)] if len(shapes) == 1 else [im[None] for im in images]
        out = []
        for g in groups:
            y = self.front_end(g)
            if y.ndim != 4 or y.shape[1] != 3 or y.shape[-2:] != g.shape[-2:]:
                raise ValueError(f"the front end must map (B, C, H, W) to (B, 3, H, W) of the same size, got "
                                 f"{tuple(g.shape)} -> {tuple(y.shape)}")
            out.extend(y.unbind(0))
        return out

    def forward(self, images, targets: list[dict] | None = None):
        """The front end, then the detector; arguments, returns and errors as in the class docstring."""
        if isinstance(images, torch.Tensor):
            if images.ndim != 4:
                raise ValueError(f"images must be (B, C, H, W) or a list of (C, H, W), got {tuple(images.shape)}")
            images = list(images.unbind(0))
        images = list(images)
        for im in images:
            if im.ndim != 3 or not im.is_floating_point():
                raise ValueError(f"each image must be a float (C, H, W) tensor in [0, 1], got {im.dtype} "
                                 f"{tuple(im.shape)}")
        if targets is not None:
            for t in targets:
                lab = t["labels"]  # checked on the CPU only (on an accelerator: a host sync per image and step)
                if lab.device.type == "cpu" and lab.numel() and (int(lab.min()) < 1 or int(lab.max()) > self.num_classes):
                    raise ValueError(f"target labels must be in 1..{self.num_classes} (0 is the background), got "
                                     f"{sorted(set(lab.tolist()))}")
        out = self.detector(self._front(images), targets)
        if not self.training and isinstance(out, list):  # drop the (never trained) background channel's detections
            out = [{k: v[d["labels"] > 0] for k, v in d.items()} for d in out]
        return out


def build_detector(
    name: str = "retinanet",
    num_classes: int = 1,
    backbone: str = "efficientnet_lite0",
    front_end: nn.Module | None = None,
    min_size: int = 320,
    max_size: int = 320,
    pretrained_backbone: bool = True,
    *,
    fpn_channels: int = 256,
    freeze_bn: bool | None = None,
    **detector_kwargs,
) -> FrontEndDetector:
    """Build a torchvision RetinaNet or FCOS on an ImageNet EfficientNet-Lite + FPN backbone, behind a front end.

    Args:
        name: ``"retinanet"`` (anchors of 32-512 px x 3 scales x 3 ratios on P3-P7, focal loss) or ``"fcos"``
            (anchor-free, centre-ness), torchvision's defaults otherwise (``detector_kwargs`` overrides them, e.g.
            ``score_thresh``, ``detections_per_img``).
        num_classes: C, the number of object categories; labels run 1..C, 0 is the background. The torchvision
            head gets C + 1 outputs (index 0 never a positive), as torchvision's COCO models (91 = 90 + 1) do.
        backbone: ``efficientnet_lite0`` (C3-C5 channels 40, 112, 320), ``_lite1`` or ``_lite2``.
        front_end: optional module mapping (B, C_in, H, W) in [0, 1] to (B, 3, H, W) RGB in [0, 1] of the same
            size (e.g. TA-ISP on a demosaiced RAW); None: the inputs are RGB in [0, 1].
        min_size, max_size: the detector's resize (``GeneralizedRCNNTransform``): shorter side to ``min_size``,
            longer side at most ``max_size``; predicted boxes are mapped back to input pixels.
        pretrained_backbone: ImageNet weights (default). Only an explicit False gives a random backbone.
        fpn_channels: channels of P3-P7.
        freeze_bn: replace the backbone's batch norms by frozen ones (running statistics and affine parameters
            fixed, as torchvision freezes pretrained detection backbones); default: True iff pretrained.

    Returns:
        A :class:`FrontEndDetector` in train mode; ``.detector`` is the torchvision model, ``.detector.backbone``
        the :class:`EfficientNetLiteFPN`, ``.detector.transform.image_mean/std`` = 127/255, 128/255.

    Raises:
        ValueError: an unknown detector or backbone name, num_classes < 1, bad sizes.
        WeightsError: the ImageNet weights file is missing or fails its checksum.

    Source: Lin et al., "Focal Loss for Dense Object Detection" (RetinaNet), ICCV 2017; Tian et al., "FCOS: Fully
    Convolutional One-Stage Object Detection", ICCV 2019; Lin et al., "Feature Pyramid Networks", CVPR 2017;
    torchvision ``retinanet_resnet50_fpn`` / ``fcos_resnet50_fpn`` (P3-P7 with ``LastLevelP6P7(256, 256)``);
    Tan & Le, EfficientNet-Lite (TF-Lite preprocessing ``(x - 127) / 128``).

    Example:
        >>> det = build_detector("retinanet", num_classes=6, pretrained_backbone=False).eval()
        >>> out = det([torch.rand(3, 320, 320)])
        >>> sorted(out[0])
        ['boxes', 'labels', 'scores']
        >>> [round(v * 255) for v in det.detector.transform.image_mean + det.detector.transform.image_std]
        [127, 127, 127, 128, 128, 128]
    """
    import rawvision  # noqa: F401  (torchvision's NMS on a CPU-only torch)
    from torchvision.models.detection import FCOS, RetinaNet

    key = str(name).lower()
    if key not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}: expected one of {', '.join(DETECTORS)}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be an int >= 1 (object categories, background excluded), got "
                         f"{num_classes!r}")
    if not 32 <= int(min_size) <= int(max_size):
        raise ValueError(f"need 32 <= min_size <= max_size, got {min_size}, {max_size}")
    pretrained = pretrained_backbone is not False  # only an explicit False gives a random backbone
    net = lite_backbone_net(backbone, pretrained=pretrained)
    if freeze_bn if freeze_bn is not None else pretrained:
        from timm.layers import freeze_batch_norm_2d

        net = freeze_batch_norm_2d(net)
    body = EfficientNetLiteFPN(net, out_channels=fpn_channels)
    cls = RetinaNet if key == "retinanet" else FCOS
    meta = _lite_weights(backbone).meta  # TF-Lite normalisation: mean 127/255, std 128/255 on [0, 1] inputs
    det = cls(body, num_classes + 1, min_size=int(min_size), max_size=int(max_size), image_mean=list(meta.mean),
              image_std=list(meta.std), **detector_kwargs)
    return FrontEndDetector(det, num_classes, front_end)
