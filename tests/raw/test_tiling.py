import json
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from rawvision.raw import BAYER_PATTERNS, mosaic
from rawvision.raw.demosaic import DEMOSAIC_METHODS, demosaic
from rawvision.raw.tiling import demosaic_tiled, map_tiles, simulate_raw_tiled


@pytest.mark.parametrize("method", DEMOSAIC_METHODS)
@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
def test_tiled_equals_whole_image_exactly(pattern, method):
    raw = torch.rand(1, 1, 300, 400, generator=torch.Generator().manual_seed(0))
    whole = demosaic(raw, pattern, method)
    tiled = demosaic_tiled(raw, pattern, method, tile=64, halo=4)
    assert tiled.shape == (1, 3, 300, 400) and tiled.dtype == torch.float32
    assert torch.equal(tiled, whole)  # borders included: the whole image's reflect padding is matched


@pytest.mark.parametrize("method", DEMOSAIC_METHODS)
def test_tiled_equals_whole_image_for_odd_sizes_tiles_and_halos(method):
    raw = torch.rand(2, 1, 61, 47, generator=torch.Generator().manual_seed(1))
    whole = demosaic(raw, "GBRG", method)
    for tile, halo in ((13, 3), (9, 2), (64, 2), (8, 5)):
        assert torch.equal(demosaic_tiled(raw, "GBRG", method, tile=tile, halo=halo), whole), (tile, halo)
    # The halo is needed: with none the seams differ from the whole image.
    seams = map_tiles(lambda x, p: demosaic(x, p, method), raw, "GBRG", tile=16, halo=0)
    assert not torch.equal(seams, whole)


def test_uint16_memmap_source_float16_output_and_preallocated_out(tmp_path):
    path = tmp_path / "raw.npy"
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint16, shape=(90, 130))
    mm[:] = np.random.default_rng(2).integers(64, 4096, size=(90, 130), dtype=np.uint16)
    mm.flush()
    src = np.load(path, mmap_mode="r")
    whole = demosaic(
        ((torch.from_numpy(src.astype(np.float32)) - 64) / (4095 - 64))[None, None], "BGGR", "malvar"
    )
    tiled = demosaic_tiled(src, "BGGR", tile=32, black_level=64, white_level=4095)
    assert torch.equal(tiled, whole)
    half = demosaic_tiled(src, "BGGR", tile=32, black_level=64, white_level=4095, out_dtype=torch.float16)
    assert half.dtype == torch.float16 and torch.equal(half, whole.half())
    out = torch.full((1, 3, 90, 130), float("nan"))
    assert demosaic_tiled(src, "BGGR", "bilinear", tile=40, out=out, black_level=64, white_level=4095) is out
    assert torch.isfinite(out).all()


def test_simulate_raw_tiled_mosaic_exact_and_noise_statistics():
    rgb8 = np.random.default_rng(3).integers(0, 256, size=(70, 90, 3), dtype=np.uint8)
    rgb = torch.from_numpy(rgb8.astype(np.float32) / 255).permute(2, 0, 1)[None]
    clean = simulate_raw_tiled(rgb8, "GRBG", 0.0, tile=32, white_level=255)
    assert clean.shape == (1, 1, 70, 90) and torch.equal(clean, mosaic(rgb, "GRBG"))
    noisy = simulate_raw_tiled(rgb8, "GRBG", 0.05, tile=32, generator=torch.Generator().manual_seed(0), white_level=255)
    again = simulate_raw_tiled(rgb8, "GRBG", 0.05, tile=32, generator=torch.Generator().manual_seed(0), white_level=255)
    assert torch.equal(noisy, again)
    assert abs(float((noisy - clean).std()) - 0.05) < 0.005 and abs(float((noisy - clean).mean())) < 0.005
    assert torch.equal(simulate_raw_tiled(rgb, "GRBG", tile=25), clean)  # a (B, 3, H, W) tensor source


def test_errors():
    raw = torch.rand(1, 1, 20, 20)
    with pytest.raises(ValueError, match="halo must be >= 2 for malvar"):
        demosaic_tiled(raw, "RGGB", "malvar", halo=1)
    with pytest.raises(ValueError, match="unknown demosaicing method"):
        demosaic_tiled(raw, "RGGB", "vng")
    with pytest.raises(ValueError, match="1-channel mosaic"):
        demosaic_tiled(torch.rand(1, 3, 20, 20), "RGGB")
    with pytest.raises(ValueError, match="3-channel RGB"):
        simulate_raw_tiled(raw, "RGGB")
    with pytest.raises(ValueError, match="tile must be an int >= 1"):
        demosaic_tiled(raw, "RGGB", tile=0)
    with pytest.raises(ValueError, match=r"out must be a tensor of shape \(1, 3, 20, 20\)"):
        demosaic_tiled(raw, "RGGB", out=torch.empty(1, 3, 20, 21))
    with pytest.raises(ValueError, match="fn must return a tensor of shape"):
        map_tiles(lambda x, p: x, raw, "RGGB", tile=8, halo=2, out_channels=3)
    with pytest.raises(ValueError, match="white_level"):
        demosaic_tiled(raw, "RGGB", black_level=10, white_level=5)
    with pytest.raises(ValueError, match="source must be"):
        demosaic_tiled([[0.0] * 4] * 4, "RGGB")


_SIXTY_MEGAPIXELS = textwrap.dedent(
    """
    import json, resource, time
    import numpy as np, torch
    import rawvision
    from rawvision.raw import mosaic
    from rawvision.raw.demosaic import demosaic_malvar
    from rawvision.raw.tiling import demosaic_tiled, simulate_raw_tiled

    H, W, TILE, SIGMA = 6000, 10000, 1024, 0.01
    t0 = time.perf_counter()
    # A smooth uint8 RGB image, synthesised by row chunks (never a full-frame float array): 180 MB.
    rgb = np.empty((H, W, 3), np.uint8)
    x = np.linspace(0.0, 1.0, W, dtype=np.float32)[None, :]
    for y0 in range(0, H, 256):
        n = min(H, y0 + 256) - y0
        y = (np.arange(y0, y0 + n, dtype=np.float32) / H)[:, None]
        for c, (fx, fy) in enumerate(((3.0, 2.0), (2.0, 5.0), (5.0, 1.0))):
            rgb[y0 : y0 + n, :, c] = 127.5 + 100.0 * np.sin(fx * x + fy * y + c)
    t1 = time.perf_counter()
    raw = simulate_raw_tiled(rgb, "RGGB", SIGMA, tile=TILE, generator=torch.Generator().manual_seed(0),
                             white_level=255)  # (1, 1, H, W) float32, 240 MB
    t2 = time.perf_counter()
    out = demosaic_tiled(raw, "RGGB", "malvar", tile=TILE, halo=4)  # (1, 3, H, W) float32, 720 MB
    t3 = time.perf_counter()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    exact = []  # 80 x 80 windows across a tile corner and at two image corners, against a direct demosaic
    for yc, xc in ((TILE - 40, TILE - 40), (0, 0), (H - 80, W - 80)):
        y0, x0, y1, x1 = max(0, yc - 4), max(0, xc - 4), min(H, yc + 84), min(W, xc + 84)
        ref = demosaic_malvar(raw[..., y0:y1, x0:x1], "RGGB")[..., yc - y0 : yc - y0 + 80, xc - x0 : xc - x0 + 80]
        exact.append(bool(torch.equal(out[..., yc : yc + 80, xc : xc + 80], ref)))
    crop = torch.from_numpy(rgb[2000:2256, 3000:3256].astype(np.float32) / 255).permute(2, 0, 1)[None]
    print(json.dumps({
        "peak_rss_kib": peak_kib, "synth_s": t1 - t0, "simulate_s": t2 - t1, "demosaic_s": t3 - t2,
        "shape": list(out.shape), "dtype": str(out.dtype), "exact": exact,
        "noise_std": float((raw[..., 2000:2256, 3000:3256] - mosaic(crop, "RGGB")).std()),
        "mae": float((out[..., 2002:2254, 3002:3254] - crop[..., 2:-2, 2:-2]).abs().mean()),
    }))
    """
)


def test_sixty_megapixels_simulated_and_demosaiced_under_4_gib():
    """A 6000 x 10000 RGB -> tiled RAW simulation (mosaic + noise) -> tiled Malvar demosaic, in a child process
    whose peak resident memory (ru_maxrss) is measured."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _SIXTY_MEGAPIXELS], capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    peak_gib = r["peak_rss_kib"] / 2**20
    print(f"\n60 MP: peak RSS {peak_gib:.2f} GiB; synthesis {r['synth_s']:.1f} s, simulation {r['simulate_s']:.1f} s, "
          f"demosaic {r['demosaic_s']:.1f} s, child wall {wall:.1f} s; noise std {r['noise_std']:.4f}, "
          f"MAE vs source {r['mae']:.4f}")
    assert r["shape"] == [1, 3, 6000, 10000] and r["dtype"] == "torch.float32"
    assert all(r["exact"]), r["exact"]
    assert abs(r["noise_std"] - 0.01) < 0.001  # the simulated noise, in units of the white level
    assert r["mae"] < 0.02  # Malvar on a smooth image with sigma = 0.01 noise
    assert peak_gib < 4.0, f"peak RSS {peak_gib:.2f} GiB"
    assert peak_gib > 0.9  # the 720 MB output and the 240 MB RAW were really held: the measure is not vacuous
