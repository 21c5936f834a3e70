import numpy as np
import pytest
import torch

from rawvision.raw import BAYER_PATTERNS, demosaic_bilinear, mosaic


@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
def test_bilinear_matches_colour_demosaicing_interior(pattern):
    colour_demosaicing = pytest.importorskip("colour_demosaicing")
    rgb = torch.rand(1, 3, 20, 26, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    raw = mosaic(rgb, pattern)
    ours = demosaic_bilinear(raw, pattern)[0].permute(1, 2, 0).numpy()
    ref = colour_demosaicing.demosaicing_CFA_Bayer_bilinear(raw[0, 0].numpy(), pattern)
    np.testing.assert_allclose(ours[1:-1, 1:-1], ref[1:-1, 1:-1], atol=1e-12)


@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
def test_bilinear_matches_kornia_interior(pattern):
    kornia = pytest.importorskip("kornia")
    # kornia names the CFA by the 2x2 block's second row (OpenCV convention): RGGB is CFA.BG, etc.
    cfa = {"RGGB": "BG", "BGGR": "RG", "GRBG": "GB", "GBRG": "GR"}[pattern]
    rgb = torch.rand(2, 3, 16, 18, generator=torch.Generator().manual_seed(2))
    raw = mosaic(rgb, pattern)
    ref = kornia.color.raw_to_rgb(raw, getattr(kornia.color.CFA, cfa))
    torch.testing.assert_close(demosaic_bilinear(raw, pattern)[..., 2:-2, 2:-2], ref[..., 2:-2, 2:-2])


@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
def test_keeps_recorded_values_and_reproduces_constant_and_linear_images(pattern):
    rgb = torch.rand(1, 3, 12, 12)
    raw = mosaic(rgb, pattern)
    out = demosaic_bilinear(raw, pattern)
    assert torch.allclose(mosaic(out, pattern), raw)
    const = torch.tensor([0.2, 0.5, 0.9]).view(1, 3, 1, 1).expand(1, 3, 10, 10)
    torch.testing.assert_close(demosaic_bilinear(mosaic(const, pattern), pattern), const)
    ramp = torch.linspace(0, 1, 10).view(1, 1, 1, 10).expand(1, 3, 10, 10)
    torch.testing.assert_close(demosaic_bilinear(mosaic(ramp, pattern), pattern)[..., 1:-1], ramp[..., 1:-1])


def test_batched_and_differentiable():
    raw = torch.rand(3, 1, 8, 8, requires_grad=True)
    out = demosaic_bilinear(raw)
    assert out.shape == (3, 3, 8, 8)
    out.sum().backward()
    assert raw.grad is not None and torch.isfinite(raw.grad).all()
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        demosaic_bilinear(torch.rand(1, 3, 8, 8))
