"""The demo's embedded photos (scikit-image's, scikit-learn's and matplotlib's wheels) and its fixed split."""

from PIL import Image

from rawvision.data.samples import DEMO_TEST_PHOTOS, GREYSCALE_PHOTOS, demo_photo_split


def test_demo_split_holds_out_the_test_photos_with_at_least_100_crops():
    train, test = demo_photo_split()
    assert sorted(f.name for f in test) == sorted(DEMO_TEST_PHOTOS)
    assert {f.name for f in train}.isdisjoint(f.name for f in test) and len(train) == 7
    assert not {f.name for f in train} & set(GREYSCALE_PHOTOS)
    assert all(Image.open(f).mode == "RGB" for f in train + test)  # colour photos only
    crops = sum((w // 96) * (h // 96) for w, h in (Image.open(f).size for f in test))  # the demo's 96x96 grid
    assert crops == 108  # issue 17: at least 100 held-out test crops, so a binomial error means something


def test_demo_photos_name_the_missing_package(monkeypatch):
    import importlib.util

    import pytest

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sklearn" else real(name, *a))
    with pytest.raises(FileNotFoundError, match=r"the demo's photos need sklearn: pip install scikit-learn"):
        demo_photo_split()
