"""The real photos that ship inside scikit-image's wheel: the demo's default data (no download)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["SKIMAGE_PHOTOS", "skimage_photo_files"]

#: Photographs in ``skimage/data`` (colour and greyscale); drawings, scans and synthetic images left out.
SKIMAGE_PHOTOS = (
    "astronaut.png", "brick.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "grass.png", "gravel.png",
    "hubble_deep_field.jpg", "ihc.png", "moon.png", "motorcycle_left.png", "retina.jpg", "rocket.jpg",
)


def skimage_photo_files() -> list[Path]:
    """Paths of :data:`SKIMAGE_PHOTOS` inside the installed scikit-image. Raises FileNotFoundError if missing."""
    import skimage.data

    root = Path(skimage.data.__file__).parent
    files = [root / n for n in SKIMAGE_PHOTOS]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"scikit-image's wheel lacks the sample photos {', '.join(missing)} in {root}")
    return files
