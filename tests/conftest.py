import os
from pathlib import Path

import pytest

import rawvision  # noqa: F401  (torchvision compatibility before lightning/timm/torchmetrics)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _shared(sub: str) -> Path:
    p = SHARED / sub
    if not p.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{p} is missing: CI must run with ../shared beside the checkout")
        pytest.skip(f"{p} is absent (the shared data folder beside the checkout); test skipped")
    return p


@pytest.fixture(scope="session")
def shared_photos() -> Path:
    """../shared/data/photos (real labelled ImageNet photos)."""
    return _shared("data/photos")


@pytest.fixture(scope="session")
def shared_raw() -> Path:
    """../shared/data/raw (real camera RAW files: tiles/ and originals/, see its README.md)."""
    return _shared("data/raw")


@pytest.fixture(scope="session")
def lite0():
    from rawvision.models import build_classifier

    return build_classifier("efficientnet_lite0")
