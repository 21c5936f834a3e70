import math

import pytest
import torch

from rawvision.raw import RawSimulator, add_gaussian_noise
from rawvision.raw.noise import (
    add_poisson_gaussian_noise,
    add_shot_read_noise,
    random_noise_levels,
    simulate_short_exposure,
)


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


# ------------------------------------------------------------------------------ shot/read noise and short exposures


def test_random_noise_levels_follow_brooks():
    shot, read = random_noise_levels(20000, torch.Generator().manual_seed(0))
    assert shot.shape == read.shape == (20000,) and shot.dtype == torch.float32
    assert shot.min() >= 1e-4 * (1 - 1e-6) and shot.max() <= 1.2e-2 * (1 + 1e-6)
    ls = shot.double().log()
    # log-uniform: mean and std of log(shot) of U(log 1e-4, log 1.2e-2)
    lo, hi = math.log(1e-4), math.log(1.2e-2)
    assert abs(ls.mean().item() - (lo + hi) / 2) < 0.03 and abs(ls.std().item() - (hi - lo) / math.sqrt(12)) < 0.02
    resid = read.double().log() - (2.18 * ls + 1.20)
    assert abs(resid.mean().item()) < 0.01 and abs(resid.std().item() - 0.26) < 0.01
    a = random_noise_levels(3, torch.Generator().manual_seed(4))
    b = random_noise_levels(3, torch.Generator().manual_seed(4))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and len(set(a[0].tolist())) == 3
    with pytest.raises(ValueError, match="batch must be an int >= 1"):
        random_noise_levels(0)


def _levels_image(n: int = 4096) -> torch.Tensor:
    """(2, 1, 4, n): per sample four rows of constant signal 0, 0.1, 0.5, 0.9."""
    x = torch.tensor([0.0, 0.1, 0.5, 0.9], dtype=torch.float64).view(1, 1, 4, 1)
    return x.expand(2, 1, 4, n).contiguous()


@pytest.mark.parametrize("fn", [add_shot_read_noise, add_poisson_gaussian_noise])
def test_noise_variance_is_signal_times_shot_plus_read(fn):
    raw = _levels_image(16384)
    shot, read = torch.tensor([0.01, 0.002], dtype=torch.float64), torch.tensor([4e-4, 1e-5], dtype=torch.float64)
    noisy = fn(raw, shot, read, torch.Generator().manual_seed(1))
    d = noisy - raw
    want = raw[:, :, :, :1] * shot.view(2, 1, 1, 1) + read.view(2, 1, 1, 1)  # (2, 1, 4, 1)
    var, mean = d.var(dim=-1, keepdim=True), d.mean(dim=-1, keepdim=True)
    # 16,384 samples per cell: the sample variance is within ~1.1 % (1 sd) of the truth; 4 % catches a factor 2
    assert ((var / want - 1).abs() < 0.04).all(), (var / want).flatten().tolist()
    assert ((mean.abs() / (want.sqrt() / 128)) < 4.5).all()


def test_poisson_draw_is_discrete_and_reproducible():
    raw = torch.full((1, 1, 64, 64), 0.05)
    out = add_poisson_gaussian_noise(raw, 0.01, 0.0, torch.Generator().manual_seed(0))
    electrons = out / 0.01
    torch.testing.assert_close(electrons, electrons.round(), rtol=0, atol=1e-4)  # 5 electrons on average
    assert abs(electrons.mean().item() - 5) < 0.2
    again = add_poisson_gaussian_noise(raw, 0.01, 0.0, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    # shot = 0: no shot noise; straight-through gradient
    x = torch.rand(1, 1, 8, 8, requires_grad=True)
    y = add_poisson_gaussian_noise(x, 0.0, 0.0)
    torch.testing.assert_close(y, x.detach())
    y.sum().backward()
    torch.testing.assert_close(x.grad, torch.ones_like(x))


def test_shot_read_noise_reproducible_clipped_and_differentiable():
    raw = torch.rand(2, 1, 16, 16, requires_grad=True)
    a = add_shot_read_noise(raw, 0.01, 1e-3, torch.Generator().manual_seed(3))
    b = add_shot_read_noise(raw, 0.01, 1e-3, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    c = add_shot_read_noise(raw, 0.05, 1e-2, torch.Generator().manual_seed(3), clip=True)
    assert c.min() >= 0 and c.max() <= 1
    add_shot_read_noise(torch.zeros(1, 1, 4, 4, requires_grad=True), 0.0, 0.0)  # zero variance: no NaN
    a.sum().backward()
    assert torch.isfinite(raw.grad).all()


def test_short_exposure_mean_and_variance_scale_with_the_ratio():
    raw = torch.full((1, 1, 256, 256), 0.4, dtype=torch.float64)
    shot, read = 2e-3, 2e-5
    for k in (1.0, 4.0, 16.0):
        out = simulate_short_exposure(raw, k, shot, read, generator=torch.Generator().manual_seed(int(k)), clip=False)
        want = k * 0.4 * shot + k**2 * read  # brightened: k x shot term, k^2 x read term
        assert abs(out.var().item() / want - 1) < 0.04, (k, out.var().item(), want)
        assert abs(out.mean().item() - 0.4) < 4 * math.sqrt(want / out.numel())
        dark = simulate_short_exposure(raw, k, shot, read, generator=torch.Generator().manual_seed(0),
                                       brighten=False, clip=False)
        assert abs(dark.mean().item() - 0.4 / k) < 4 * math.sqrt(want / k**2 / dark.numel())
        assert abs(dark.var().item() / (want / k**2) - 1) < 0.04
    # per-sample ratios
    out = simulate_short_exposure(raw.expand(2, 1, 256, 256), torch.tensor([1.0, 8.0]), shot, read,
                                  generator=torch.Generator().manual_seed(0))
    v = out.var(dim=(1, 2, 3))
    assert v[1] / v[0] > 8  # 8 * 0.4 * shot + 64 * read vs 0.4 * shot + read: ratio ~ 9.4


def test_short_exposure_quantisation_and_clipping():
    raw = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    k, bits = 8.0, 10
    out = simulate_short_exposure(raw, k, 1e-3, 1e-6, bit_depth=bits, generator=torch.Generator().manual_seed(1))
    codes = out / k * (2**bits - 1)
    torch.testing.assert_close(codes, codes.round(), rtol=0, atol=1e-3)
    assert codes.min() >= 0 and codes.max() <= 2**bits - 1
    # bright signal, dark frame: the codes fill at most (2^bits - 1) / k of the range
    assert codes.max() <= (2**bits - 1) / k * 1.3
    dark = simulate_short_exposure(raw, k, 1e-1, 1e-2, bit_depth=4, brighten=False,
                                   generator=torch.Generator().manual_seed(1))
    assert dark.min() >= 0 and dark.max() <= 1 and len(torch.unique(dark)) <= 16
    # the gradient passes the rounding straight through: d out / d raw ~ 1 on average
    x = raw.clone().requires_grad_(True)
    g = torch.Generator().manual_seed(1)
    simulate_short_exposure(x, k, 1e-3, 1e-6, bit_depth=bits, generator=g).sum().backward()
    assert torch.isfinite(x.grad).all() and abs(x.grad.mean().item() - 1) < 0.1
    # Poisson variant runs and keeps the mean
    p = simulate_short_exposure(torch.full((1, 1, 128, 128), 0.5), 4.0, 1e-3, 1e-6, poisson=True,
                                generator=torch.Generator().manual_seed(2))
    assert abs(p.mean().item() - 0.5) < 0.005


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ratio": 0.5}, r"exposure ratio must be finite and >= 1"),
        ({"ratio": float("nan")}, r"exposure ratio must be finite and >= 1"),
        ({"ratio": torch.ones(3)}, r"ratio must be a number or a \(2,\) tensor"),
        ({"shot": -1e-3}, r"shot must be finite and >= 0"),
        ({"read": float("inf")}, r"read must be finite and >= 0"),
        ({"read": torch.ones(2, 1)}, r"read must be a number or a \(2,\) tensor"),
        ({"raw": torch.rand(1, 8, 8)}, r"simulate_short_exposure expects a RAW tensor of shape \(B, C, H, W\)"),
        ({"bit_depth": 0}, "bit_depth must be None or an int in"),
        ({"bit_depth": 12.0}, "bit_depth must be None or an int in"),
    ],
)
def test_short_exposure_errors_are_one_clear_line(kwargs, match):
    args = {"raw": torch.rand(2, 1, 8, 8), "ratio": 4.0, "shot": 1e-3, "read": 1e-5, **kwargs}
    with pytest.raises(ValueError, match=match) as e:
        simulate_short_exposure(**args)
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="shot must be finite and >= 0"):
        add_shot_read_noise(torch.rand(2, 1, 4, 4), torch.tensor([1e-3, -1e-3]), 0.0)
