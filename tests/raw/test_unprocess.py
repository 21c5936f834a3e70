import csv

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rawvision.raw.cfa import BAYER_PATTERNS, mosaic
from rawvision.raw.demosaic import demosaic_bilinear
from rawvision.raw.isp import apply_white_balance, gamma_compression, process, smoothstep
from rawvision.raw.unprocess import (
    SRGB_TO_XYZ,
    XYZ_TO_CAM_BROOKS,
    UnprocessParams,
    apply_ccm,
    gamma_expansion,
    inverse_smoothstep,
    random_ccm,
    random_gains,
    rgb_to_cam_from_xyz,
    safe_invert_gains,
    sample_unprocess_params,
    unprocess,
    unprocess_to_camera,
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B,) PSNR in dB of images in [0, 1]."""
    mse = ((a.double() - b.double()) ** 2).mean(dim=(1, 2, 3))
    return 10 * torch.log10(1 / mse.clamp(min=1e-30))


def smooth_images(b: int, size: int = 64, seed: int = 0) -> torch.Tensor:
    """Random low-frequency sRGB images in [0, 1] (bicubic upsampling of 6x6 noise)."""
    g = torch.Generator().manual_seed(seed)
    x = F.interpolate(torch.rand(b, 3, 6, 6, generator=g), size=(size, size), mode="bicubic", align_corners=False)
    return x.clamp(0, 1)


@pytest.fixture(scope="module")
def four_photos(shared_photos):
    """The first 4 RGB photos of labels.csv with both sides >= 256 px, centre-cropped to 256x256, (4, 3, 256, 256)."""
    from rawvision.data.photos import load_rgb

    with open(shared_photos / "labels.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["mode"] == "RGB" and min(int(r["width"]), int(r["height"])) >= 256]
    out = []
    for r in rows[:4]:
        x = load_rgb(shared_photos / r["wnid"] / r["filename"]).float() / 255
        t, left = (x.shape[1] - 256) // 2, (x.shape[2] - 256) // 2
        out.append(x[:, t : t + 256, left : left + 256])
    return torch.stack(out)


# ---------------------------------------------------------------------------------------------------- constants


def test_constants_are_brooks_and_srgb_d65():
    assert XYZ_TO_CAM_BROOKS.shape == (4, 3, 3)
    assert XYZ_TO_CAM_BROOKS[0, 0, 0].item() == 1.0234 and XYZ_TO_CAM_BROOKS[3, 2, 2].item() == 0.5181
    # sRGB white (1, 1, 1) is the D65 white point, XYZ = (0.95047, 1, 1.08883)
    white = SRGB_TO_XYZ.sum(dim=1)
    np.testing.assert_allclose(white.numpy(), [0.95047, 1.0, 1.08883], atol=2e-4)


def test_rgb_to_cam_from_xyz_matches_numpy_formula():
    for k in range(4):
        m = XYZ_TO_CAM_BROOKS[k].numpy() @ SRGB_TO_XYZ.numpy()
        ref = m / m.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(rgb_to_cam_from_xyz(XYZ_TO_CAM_BROOKS[k]).numpy(), ref, rtol=1e-12)
    assert rgb_to_cam_from_xyz(XYZ_TO_CAM_BROOKS.float()).dtype == torch.float32


# ---------------------------------------------------------------------------------------------------- random params


def test_random_ccm_is_a_convex_combination_of_brooks_cameras():
    ccm = random_ccm(500, torch.Generator().manual_seed(0), dtype=torch.float64)
    assert ccm.shape == (500, 3, 3) and ccm.dtype == torch.float64
    torch.testing.assert_close(ccm.sum(-1), torch.ones(500, 3, dtype=torch.float64))
    # the rows of xyz2cam @ rgb2xyz have positive sums for the 4 cameras, so each normalised row of a convex
    # combination is a convex combination of the cameras' normalised rows: every entry lies in their range.
    cams = rgb_to_cam_from_xyz(XYZ_TO_CAM_BROOKS)
    lo, hi = cams.amin(0), cams.amax(0)
    assert bool(((ccm >= lo - 1e-12) & (ccm <= hi + 1e-12)).all())
    # and it is not stuck on one camera: the samples spread over most of the range
    assert bool(((ccm.amax(0) - ccm.amin(0)) > 0.5 * (hi - lo)).all())


def test_random_gains_follow_brooks_distributions():
    rgb_gain, red, blue = random_gains(20000, torch.Generator().manual_seed(1))
    assert rgb_gain.shape == red.shape == blue.shape == (20000,)
    assert red.min() >= 1.9 and red.max() <= 2.4 and blue.min() >= 1.5 and blue.max() <= 1.9
    assert abs(red.mean().item() - 2.15) < 0.01 and abs(blue.mean().item() - 1.7) < 0.01
    inv = 1 / rgb_gain  # N(0.8, 0.1)
    assert abs(inv.mean().item() - 0.8) < 0.005 and abs(inv.std().item() - 0.1) < 0.005


def test_params_are_reproducible_and_differ_across_the_batch():
    rgb = smooth_images(3)
    raw_a, pa = unprocess(rgb, generator=torch.Generator().manual_seed(5))
    raw_b, pb = unprocess(rgb, generator=torch.Generator().manual_seed(5))
    raw_c, pc = unprocess(rgb, generator=torch.Generator().manual_seed(6))
    assert torch.equal(raw_a, raw_b) and torch.equal(pa.rgb2cam, pb.rgb2cam) and torch.equal(pa.wb_gains, pb.wb_gains)
    assert not torch.equal(raw_a, raw_c)
    for t in (pa.rgb_gain, pa.red_gain, pa.blue_gain):
        assert len(set(t.tolist())) == 3
    assert not torch.allclose(pa.rgb2cam[0], pa.rgb2cam[1])
    # reusing the params reproduces the RAW exactly, without drawing
    torch.testing.assert_close(unprocess(rgb, params=pa)[0], raw_a, rtol=0, atol=0)


def test_params_dataclass():
    p = sample_unprocess_params(2, torch.Generator().manual_seed(0))
    want = torch.stack([p.red_gain, torch.ones(2), p.blue_gain], 1) * p.rgb_gain[:, None]
    torch.testing.assert_close(p.wb_gains, want)
    torch.testing.assert_close(p.rgb2cam @ p.cam2rgb, torch.eye(3).expand(2, 3, 3), atol=1e-5, rtol=0)
    assert p.to(torch.float64).cam2rgb.dtype == torch.float64 and p.batch_size == 2
    with pytest.raises(ValueError, match="red_gain must be"):
        UnprocessParams(p.rgb2cam, p.cam2rgb, p.rgb_gain, p.red_gain[:1], p.blue_gain)


# ---------------------------------------------------------------------------------------------------- inverses


def test_smoothstep_and_gamma_inverses():
    y = torch.linspace(0, 1, 1001, dtype=torch.float64)
    torch.testing.assert_close(smoothstep(inverse_smoothstep(y)), y)
    torch.testing.assert_close(inverse_smoothstep(smoothstep(y)), y)
    torch.testing.assert_close(inverse_smoothstep(torch.tensor([-0.5, 1.5])), torch.tensor([0.0, 1.0]))  # clipped
    x = torch.linspace(1e-3, 1, 1000, dtype=torch.float64)
    torch.testing.assert_close(gamma_compression(gamma_expansion(x)), x)
    assert gamma_expansion(torch.tensor([0.5])).item() == pytest.approx(0.5**2.2)


def test_safe_invert_gains_is_exact_below_the_inflection_and_keeps_white():
    g = torch.Generator().manual_seed(2)
    img = torch.rand(2, 3, 16, 16, generator=g) * 0.85  # mean of the channels <= 0.85 < 0.9
    rgb_gain, red, blue = torch.tensor([1.3, 0.9]), torch.tensor([2.0, 2.3]), torch.tensor([1.6, 1.8])
    inv = safe_invert_gains(img, rgb_gain, red, blue)
    plain = img / (torch.stack([red, torch.ones(2), blue], 1) * rgb_gain[:, None]).view(2, 3, 1, 1)
    torch.testing.assert_close(inv, plain)
    wb = torch.stack([red, torch.ones(2), blue], 1) * rgb_gain[:, None]
    torch.testing.assert_close(apply_white_balance(inv, wb), img)
    # a white pixel keeps the value 1 in every channel where the plain gains are < 1 (not dimmed)
    white = torch.ones(1, 3, 2, 2)
    torch.testing.assert_close(safe_invert_gains(white, 1.25, 2.0, 1.6), white)
    # in between, the result lies between the plain inversion and the input
    grey = torch.full((1, 3, 1, 1), 0.95)
    out = safe_invert_gains(grey, 1.25, 2.0, 1.6)
    plain = grey / torch.tensor([2.5, 1.25, 2.0]).view(1, 3, 1, 1)
    assert bool(((out > plain) & (out < grey)).all())


# ---------------------------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
def test_round_trip_smooth_images(pattern):
    rgb = smooth_images(4, 64, seed=3)
    raw, p = unprocess(rgb, pattern, generator=torch.Generator().manual_seed(0))
    assert raw.shape == (4, 1, 64, 64) and raw.min() >= 0 and raw.max() <= 1
    out = process(raw, p.wb_gains, p.cam2rgb, pattern)
    assert psnr(out, rgb).min() >= 40
    # without the demosaicing (the un-mosaiced camera image) the round trip is exact to float32 precision
    cam = unprocess_to_camera(rgb, p)
    torch.testing.assert_close(mosaic(cam, pattern), raw, rtol=0, atol=0)
    assert psnr(process(cam, p.wb_gains, p.cam2rgb), rgb).min() >= 100


def test_round_trip_real_photos(four_photos):
    x = four_photos
    raw, p = unprocess(x, "RGGB", generator=torch.Generator().manual_seed(0))
    full = psnr(process(raw, p.wb_gains, p.cam2rgb, "RGGB"), x)
    malvar = psnr(process(raw, p.wb_gains, p.cam2rgb, "RGGB", demosaic_method="malvar"), x)
    ident = psnr(process(unprocess_to_camera(x, p), p.wb_gains, p.cam2rgb), x)
    demosaic_only = psnr(demosaic_bilinear(mosaic(x, "RGGB"), "RGGB"), x)  # bilinear on the sRGB mosaic itself
    print(f"\nround trip, bilinear demosaic: {[round(v, 2) for v in full.tolist()]} mean {full.mean():.2f} dB")
    print(f"round trip, Malvar demosaic:   {[round(v, 2) for v in malvar.tolist()]} mean {malvar.mean():.2f} dB")
    print(f"round trip, no demosaic:       {[round(v, 2) for v in ident.tolist()]} mean {ident.mean():.2f} dB")
    print(f"bilinear demosaic of sRGB:     {[round(v, 2) for v in demosaic_only.tolist()]} "
          f"mean {demosaic_only.mean():.2f} dB")
    # the colour pipeline itself is near exact; what is lost there comes from highlights (safe WB inversion)
    assert ident.min() >= 40
    # the rest is the demosaicing: the round trip loses at most a few dB more than demosaicing the sRGB mosaic
    # (the gamma and the CCM amplify the demosaicing error in dark and saturated colours)
    assert bool((full >= demosaic_only - 4).all()) and full.mean() >= 25
    assert malvar.mean() > full.mean()  # a better demosaicing narrows the gap


def test_colour_pipeline_is_exact_outside_highlights(four_photos):
    x = four_photos
    p = sample_unprocess_params(4, torch.Generator().manual_seed(1))
    lin_cam = apply_ccm(gamma_expansion(inverse_smoothstep(x)), p.rgb2cam)
    unsat = ((lin_cam.mean(1, keepdim=True) <= 0.9) & (lin_cam.amin(1, keepdim=True) >= 0)).expand_as(x)
    out = process(unprocess_to_camera(x, p), p.wb_gains, p.cam2rgb)
    assert unsat.float().mean() > 0.9
    assert (out - x).abs()[unsat].max() < 1e-4
    hi = ~unsat
    if hi.any():  # near-white pixels: the safe inversion does not invert exactly
        assert (out - x).abs()[hi].max() > 1e-4


# ---------------------------------------------------------------------------------------------------- metadata


def test_camera_matrix_and_gains_from_metadata():
    rgb = smooth_images(2, 64)
    xyz = XYZ_TO_CAM_BROOKS[2].float()
    raw, p = unprocess(rgb, "BGGR", camera_xyz=xyz, wb_gains=torch.tensor([2.2, 1.0, 1.7]))
    torch.testing.assert_close(p.rgb2cam, rgb_to_cam_from_xyz(xyz).expand(2, 3, 3))
    torch.testing.assert_close(p.wb_gains, torch.tensor([[2.2, 1.0, 1.7]] * 2))
    assert p.rgb_gain.tolist() == [1.0, 1.0]
    assert psnr(process(raw, p.wb_gains, p.cam2rgb, "BGGR"), rgb).min() >= 40
    # per-sample gains at any scale (rawpy's camera_whitebalance is often ~1024 for green)
    wb = torch.tensor([[2000.0, 1000.0, 1500.0], [2100.0, 1024.0, 1700.0]])
    _, p2 = unprocess(rgb, camera_xyz=XYZ_TO_CAM_BROOKS[:2], wb_gains=wb)
    torch.testing.assert_close(p2.wb_gains, wb)
    torch.testing.assert_close(p2.red_gain, wb[:, 0] / wb[:, 1])
    # only the gains given: the camera is still drawn from the generator
    _, p3 = unprocess(rgb, wb_gains=wb, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(p3.rgb2cam[0], p3.rgb2cam[1])


# ---------------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rgb": torch.rand(2, 1, 8, 8)}, r"rgb must be an RGB tensor of shape \(B, 3, H, W\)"),
        ({"rgb": torch.rand(3, 8, 8)}, r"rgb must be an RGB tensor"),
        ({"pattern": "RGBG"}, "unknown CFA pattern"),
        ({"camera_xyz": torch.eye(4)}, r"camera_xyz must be a \(3, 3\)"),
        ({"camera_xyz": torch.zeros(3, 3)}, "row summing to ~0"),
        ({"camera_xyz": torch.full((3, 3), float("nan"))}, "non-finite"),
        ({"wb_gains": torch.tensor([2.0, 1.0])}, r"wb_gains must be \(3,\)"),
        ({"wb_gains": torch.tensor([2.0, -1.0, 1.5])}, "finite and > 0"),
        ({"params": "x"}, "params must be UnprocessParams"),
    ],
)
def test_errors_are_one_clear_line(kwargs, match):
    args = {"rgb": torch.rand(2, 3, 8, 8), "pattern": "RGGB", **kwargs}
    with pytest.raises(ValueError, match=match) as e:
        unprocess(**args)
    assert "\n" not in str(e.value)


def test_more_errors():
    p = sample_unprocess_params(3)
    with pytest.raises(ValueError, match="for the batch of 2 images, got 3"):
        unprocess_to_camera(torch.rand(2, 3, 4, 4), p)
    with pytest.raises(ValueError, match="not both"):
        unprocess(torch.rand(3, 3, 4, 4), params=p, wb_gains=torch.ones(3))
    with pytest.raises(ValueError, match="batch must be an int >= 1"):
        random_ccm(0)
    with pytest.raises(ValueError, match="ccm must be"):
        apply_ccm(torch.rand(2, 3, 4, 4), torch.eye(3).expand(3, 3, 3))


# ---------------------------------------------------------------------------------------------------- autograd, dtype


def test_gradient_flows_through_unprocess_and_process():
    rgb = smooth_images(2, 16).double()
    rgb[0, :, :2, :2] = 0.0  # exact black and white: the inverse smoothstep's infinite slope must not give NaN
    rgb[1, :, :2, :2] = 1.0
    rgb.requires_grad_(True)
    raw, p = unprocess(rgb, "GRBG", generator=torch.Generator().manual_seed(0))
    out = process(raw, p.wb_gains, p.cam2rgb, "GRBG")
    out.square().sum().backward()
    assert torch.isfinite(rgb.grad).all() and rgb.grad.abs().sum() > 0
    # analytic gradient of the colour steps, away from clips and the highlight knee
    p = sample_unprocess_params(1, torch.Generator().manual_seed(3), dtype=torch.float64)
    x = (torch.rand(1, 3, 3, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 0.5 + 0.2)
    torch.autograd.gradcheck(lambda t: unprocess_to_camera(t, p), (x.requires_grad_(True),))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_and_device_are_kept(device, dtype):
    rgb = smooth_images(2, 16).to(device=device, dtype=dtype)
    raw, p = unprocess(rgb, generator=torch.Generator().manual_seed(0))  # CPU generator, parameters moved
    assert raw.dtype == dtype and raw.device.type == device
    assert p.cam2rgb.dtype == dtype and p.wb_gains.device.type == device
    _, p_cpu = unprocess(rgb.cpu().float(), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(p.wb_gains.cpu().float(), p_cpu.wb_gains)
