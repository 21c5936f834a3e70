"""The real photos that ship inside scikit-image's wheel: the demo's default data (no download)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEMO_TEST_PHOTOS", "EXTRA_DEMO_PHOTOS", "GREYSCALE_PHOTOS", "SKIMAGE_PHOTOS", "demo_photo_split",
           "skimage_photo_files"]

#: Photographs in ``skimage/data`` (colour and greyscale); drawings, scans and synthetic images left out.
SKIMAGE_PHOTOS = (
    "astronaut.png", "brick.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "grass.png", "gravel.png",
    "hubble_deep_field.jpg", "ihc.png", "moon.png", "motorcycle_left.png", "retina.jpg", "rocket.jpg",
)

#: The demo's photos beyond scikit-image's: (package, path inside it). scikit-learn's two CC BY 2.0 Flickr photos
#: (``sklearn/datasets/images/README.txt``) and matplotlib's portrait of Grace Hopper.
EXTRA_DEMO_PHOTOS = (
    ("sklearn", "datasets/images/china.jpg"), ("sklearn", "datasets/images/flower.jpg"),
    ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
)

#: The demo's held-out test photos (108 crops of 96x96): four natural colour scenes.
DEMO_TEST_PHOTOS = ("astronaut.png", "china.jpg", "motorcycle_left.png", "rocket.jpg")

#: Greyscale photos of :data:`SKIMAGE_PHOTOS`, left out of the demo: a colour sensor never records a grey scene's
#: RAW (R = G = B at every site).
GREYSCALE_PHOTOS = ("brick.png", "camera.png", "coins.png", "grass.png", "gravel.png", "moon.png")


def demo_photo_split() -> tuple[list[Path], list[Path]]:
    """``(train, test)`` photo files of ``rawvision demo``: the colour photos of :data:`SKIMAGE_PHOTOS` and
    :data:`EXTRA_DEMO_PHOTOS`; :data:`DEMO_TEST_PHOTOS` held out as the test set, the other seven (chelsea, coffee,
    flower, grace_hopper, hubble_deep_field, ihc, retina) train. A fixed split, chosen by content (the test
    photos are natural colour scenes, about ImageNet-like objects), not by the demo's scores; it replaced a
    scikit-image-only split whose training photos were mostly greyscale (README, the demo).

    Raises:
        FileNotFoundError: scikit-learn or matplotlib is not installed (``pip install scikit-learn matplotlib``,
            the ``demo`` extra), or a wheel lacks a photo.
    """
    import importlib.util

    files = [f for f in skimage_photo_files() if f.name not in GREYSCALE_PHOTOS]
    for package, rel in EXTRA_DEMO_PHOTOS:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(f"the demo's photos need {package}: pip install scikit-learn matplotlib "
                                    f"(or pip install 'rawvision[demo]')")
        f = Path(list(spec.submodule_search_locations)[0]) / rel
        if not f.is_file():
            raise FileNotFoundError(f"{package}'s wheel lacks the sample photo {f}")
        files.append(f)
    return [f for f in files if f.name not in DEMO_TEST_PHOTOS], [f for f in files if f.name in DEMO_TEST_PHOTOS]


def skimage_photo_files() -> list[Path]:
    """Paths of :data:`SKIMAGE_PHOTOS` inside the installed scikit-image. Raises FileNotFoundError if missing."""
    import skimage.data

    root = Path(skimage.data.__file__).parent
    files = [root / n for n in SKIMAGE_PHOTOS]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"scikit-image's wheel lacks the sample photos {', '.join(missing)} in {root}")
    return files
