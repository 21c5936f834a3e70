"""``simulate_pair`` goes through ``rawvision.raw.simulate_raw`` and gives the RAW and metadata it always gave."""

import numpy as np
import pytest
import torch

import rawvision  # noqa: F401
from rawvision.data.simulate_pairs import SimulationOptions, simulate_pair
from rawvision.raw.cfa import mosaic
from rawvision.raw.noise import add_gaussian_noise, add_shot_read_noise, random_noise_levels, simulate_short_exposure


def _simulate_pair_before(rgb: torch.Tensor, options: SimulationOptions, seed: int) -> tuple[torch.Tensor, dict]:
    """The implementation of ``simulate_pair`` before it called ``simulate_raw`` (commit b909248), verbatim."""
    g = torch.Generator().manual_seed(seed)
    meta: dict = {"pattern": options.pattern, "seed": seed, "wb_gains": None, "xyz_to_cam": None}
    if options.unprocess:
        from rawvision.raw.unprocess import SRGB_TO_XYZ, unprocess

        raw, p = unprocess(rgb.double(), options.pattern, generator=g)
        meta["wb_gains"] = p.wb_gains[0].tolist()
        meta["xyz_to_cam"] = (p.rgb2cam[0] @ torch.linalg.inv(SRGB_TO_XYZ.double())).tolist()
    else:
        raw = mosaic(rgb.double(), options.pattern)
    if options.exposure_ratio > 1 or options.noise == "shot-read":
        shot, read = random_noise_levels(1, generator=g, dtype=torch.float64)
        meta.update(shot_noise=float(shot), read_noise_variance=float(read))
    if options.exposure_ratio > 1:
        bits = int(np.ceil(np.log2(options.white_level - options.black_level + 1)))
        raw = simulate_short_exposure(raw, options.exposure_ratio, shot, read, bit_depth=bits, generator=g)
        meta["exposure_ratio"] = options.exposure_ratio
    elif options.noise == "shot-read":
        raw = add_shot_read_noise(raw, shot, read, generator=g)
    elif options.noise == "gaussian":
        raw = add_gaussian_noise(raw, options.sigma, generator=g)
        meta["sigma"] = options.sigma
    return raw.clamp(0, 1).float(), meta


CASES = [
    dict(unprocess=u, noise=n, exposure_ratio=k, pattern=p)
    for u in (True, False)
    for n in ("none", "gaussian", "shot-read")
    for k in (1.0, 4.0)
    for p in ("RGGB", "GBRG")
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_simulate_pair_is_bit_identical_to_before(case):
    rgb = torch.rand(1, 3, 12, 16, generator=torch.Generator().manual_seed(5))
    opts = SimulationOptions(sigma=0.05, white_level=4095, black_level=64, **case).check()
    raw, meta = simulate_pair(rgb, opts, 11)
    ref, ref_meta = _simulate_pair_before(rgb, opts, 11)
    assert raw.dtype == torch.float32 and raw.shape == (1, 1, 12, 16)
    assert torch.equal(raw, ref)
    assert meta == ref_meta and list(meta) == list(ref_meta)  # same keys in the same order (the JSON files)
    assert 0 <= float(raw.min()) and float(raw.max()) <= 1


def test_simulate_pair_seed_changes_the_draw():
    rgb = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    opts = SimulationOptions().check()
    a, ma = simulate_pair(rgb, opts, 0)
    b, mb = simulate_pair(rgb, opts, 1)
    assert not torch.equal(a, b) and ma["wb_gains"] != mb["wb_gains"]
    assert torch.equal(simulate_pair(rgb, opts, 0)[0], a)
