import pytest
import torch

from rawvision.raw import BAYER_PATTERNS, cfa_masks, mosaic, shift_pattern


@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
def test_masks_one_hot_and_layout(pattern):
    m = cfa_masks(pattern, 4, 6)
    assert m.shape == (3, 4, 6)
    assert torch.equal(m.sum(0), torch.ones(4, 6))
    idx = {"R": 0, "G": 1, "B": 2}
    for k, ch in enumerate(pattern):
        y, x = divmod(k, 2)
        assert m[idx[ch], y, x] == 1 and m[idx[ch], y + 2, x + 4] == 1
    assert m[1].sum() == 12  # half the sites are green


@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
def test_mosaic_samples_the_right_channel(pattern):
    rgb = torch.rand(2, 3, 6, 8)
    raw = mosaic(rgb, pattern)
    assert raw.shape == (2, 1, 6, 8)
    idx = {"R": 0, "G": 1, "B": 2}
    for k, ch in enumerate(pattern):
        y, x = divmod(k, 2)
        assert torch.equal(raw[:, 0, y::2, x::2], rgb[:, idx[ch], y::2, x::2])


def test_shift_pattern():
    assert shift_pattern("RGGB", 0, 1) == "GRBG"
    assert shift_pattern("RGGB", 1, 0) == "GBRG"
    assert shift_pattern("RGGB", 1, 1) == "BGGR"
    assert shift_pattern("RGGB", 2, 4) == "RGGB"
    rgb = torch.rand(1, 3, 8, 8)
    assert torch.equal(mosaic(rgb, "RGGB")[..., 1:, :], mosaic(rgb[..., 1:, :], "GBRG"))


@pytest.mark.parametrize("bad", ["RGBG", "xtrans", ""])
def test_unknown_pattern_is_one_clear_error(bad):
    with pytest.raises(ValueError, match="unknown CFA pattern") as e:
        mosaic(torch.rand(1, 3, 4, 4), bad)
    assert "\n" not in str(e.value) and "RGGB" in str(e.value)


def test_mosaic_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        mosaic(torch.rand(1, 4, 4, 4))
