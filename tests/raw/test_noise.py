import pytest
import torch

from rawvision.raw import RawSimulator, add_gaussian_noise


@pytest.mark.parametrize("sigma", [0.01, 0.1, 0.3])
def test_noise_std_and_mean(sigma):
    raw = torch.full((4, 1, 128, 128), 0.5)
    noisy = add_gaussian_noise(raw, sigma, generator=torch.Generator().manual_seed(0))
    d = noisy - raw
    # 65,536 samples: the sample std is within 1.5 % of sigma with overwhelming probability
    assert abs(d.std().item() / sigma - 1) < 0.015
    assert abs(d.mean().item()) < 4 * sigma / 256


def test_seeded_and_clipping():
    raw = torch.rand(2, 1, 32, 32)
    a = add_gaussian_noise(raw, 0.1, generator=torch.Generator().manual_seed(7))
    b = add_gaussian_noise(raw, 0.1, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    assert (a < 0).any() or (a > 1).any()  # not clipped by default
    c = add_gaussian_noise(raw, 0.1, generator=torch.Generator().manual_seed(7), clip=True)
    assert c.min() >= 0 and c.max() <= 1
    assert torch.equal(add_gaussian_noise(raw, 0.0), raw)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_negative_sigma_is_one_clear_error(bad):
    with pytest.raises(ValueError, match="sigma must be a finite number >= 0") as e:
        add_gaussian_noise(torch.zeros(1, 1, 2, 2), bad)
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="sigma"):
        RawSimulator("RGGB", bad)


def test_simulator_is_mosaic_plus_noise():
    sim = RawSimulator("GBRG", sigma=0.05)
    rgb = torch.rand(2, 3, 16, 16)
    raw = sim(rgb, generator=torch.Generator().manual_seed(3))
    ref = torch.randn(2, 1, 16, 16, generator=torch.Generator().manual_seed(3)) * 0.05
    from rawvision.raw import mosaic

    torch.testing.assert_close(raw, mosaic(rgb, "GBRG") + ref)
