import pytest
import torch

from rawvision.raw import BAYER_PATTERNS, mosaic
from rawvision.raw.pack import PACKED_CHANNELS, pack_bayer, packed_site_order, unpack_bayer


@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
def test_packed_channels_hold_their_colour_for_every_pattern(pattern):
    # A flat colour image: after mosaicing, plane R must hold only the red value, B only blue, both G planes green.
    rgb = torch.tensor([0.1, 0.5, 0.9]).view(1, 3, 1, 1).expand(2, 3, 6, 8)
    packed = pack_bayer(mosaic(rgb, pattern), pattern)
    assert packed.shape == (2, 4, 3, 4)
    expected = {"R": 0.1, "Gr": 0.5, "Gb": 0.5, "B": 0.9}
    for c, name in enumerate(PACKED_CHANNELS):
        assert torch.all(packed[:, c] == expected[name]), (pattern, name)


@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
def test_gr_is_the_green_on_the_red_row(pattern):
    raw = torch.arange(16.0).view(1, 1, 4, 4)
    packed = pack_bayer(raw, pattern)
    r_pos, gr_pos = packed_site_order(pattern)[:2]
    assert r_pos // 2 == gr_pos // 2
    assert packed[0, 0, 0, 0] == raw[0, 0, r_pos // 2, r_pos % 2]
    assert packed[0, 1, 1, 1] == raw[0, 0, 2 + gr_pos // 2, 2 + gr_pos % 2]


@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
def test_round_trip_is_exact_and_differentiable(pattern):
    raw = torch.rand(3, 1, 10, 12, dtype=torch.float64, requires_grad=True)
    back = unpack_bayer(pack_bayer(raw, pattern), pattern)
    assert torch.equal(back, raw)
    back.sum().backward()
    assert torch.equal(raw.grad, torch.ones_like(raw))


def test_bad_shapes_raise_one_line():
    with pytest.raises(ValueError, match="even H and W"):
        pack_bayer(torch.rand(1, 1, 5, 4))
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        pack_bayer(torch.rand(1, 3, 4, 4))
    with pytest.raises(ValueError, match=r"\(B, 4, H/2, W/2\)"):
        unpack_bayer(torch.rand(1, 3, 4, 4))
    with pytest.raises(ValueError, match="unknown CFA pattern"):
        pack_bayer(torch.rand(1, 1, 4, 4), "RGBG")
