import pytest
import torch
import torch.nn.functional as F

from rawvision.raw.cfa import BAYER_PATTERNS, mosaic
from rawvision.raw.demosaic import demosaic_bilinear
from rawvision.raw.isp import (
    ClassicalISP,
    apply_white_balance,
    cam_to_srgb_from_xyz,
    gamma_compression,
    process,
    smoothstep,
)
from rawvision.raw.unprocess import SRGB_TO_XYZ, XYZ_TO_CAM_BROOKS, rgb_to_cam_from_xyz, unprocess

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def smooth_images(b: int, size: int = 64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = F.interpolate(torch.rand(b, 3, 6, 6, generator=g), size=(size, size), mode="bicubic", align_corners=False)
    return x.clamp(0, 1)


def test_smoothstep_and_gamma_values():
    x = torch.tensor([0.0, 0.25, 0.5, 1.0, 1.5])
    torch.testing.assert_close(smoothstep(x), torch.tensor([0.0, 0.15625, 0.5, 1.0, 1.0]))
    assert gamma_compression(torch.tensor([0.25])).item() == pytest.approx(0.25 ** (1 / 2.2))
    assert gamma_compression(torch.tensor([0.0])).item() == pytest.approx(1e-8 ** (1 / 2.2))


@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
def test_white_balance_on_the_mosaic_commutes_with_mosaicing(pattern):
    rgb = torch.rand(2, 3, 6, 8)
    wb = torch.tensor([[2.0, 1.0, 1.5], [1.2, 0.9, 3.0]])
    torch.testing.assert_close(apply_white_balance(mosaic(rgb, pattern), wb, pattern),
                               mosaic(rgb * wb[:, :, None, None], pattern))
    # and on a 3-channel image it scales each channel
    torch.testing.assert_close(apply_white_balance(rgb, wb), rgb * wb[:, :, None, None])


def test_white_balance_hand_checked_sites():
    out = apply_white_balance(torch.ones(1, 1, 2, 2), torch.tensor([2.0, 1.0, 3.0]), "GRBG")
    torch.testing.assert_close(out, torch.tensor([[[[1.0, 2.0], [3.0, 1.0]]]]))


def test_process_follows_brooks_order():
    g = torch.Generator().manual_seed(0)
    raw = torch.rand(2, 1, 8, 8, generator=g)
    wb = torch.tensor([[2.1, 1.0, 1.7], [1.9, 1.1, 1.5]])
    cam2rgb = torch.linalg.inv(rgb_to_cam_from_xyz(XYZ_TO_CAM_BROOKS[:2].float()))
    x = demosaic_bilinear((raw * mosaic(wb[:, :, None, None].expand(2, 3, 8, 8), "BGGR")).clamp(0, 1), "BGGR")
    x = torch.einsum("bij,bjhw->bihw", cam2rgb, x).clamp(0, 1)
    lin = x
    x = x.clamp(min=1e-8) ** (1 / 2.2)
    ref = 3 * x**2 - 2 * x**3
    torch.testing.assert_close(process(raw, wb, cam2rgb, "BGGR"), ref)
    torch.testing.assert_close(process(raw, wb, cam2rgb, "BGGR", tone_curve=False), x)
    torch.testing.assert_close(process(raw, wb, cam2rgb, "BGGR", tone_curve=False, gamma=False), lin)
    # per-sample parameters: each sample equals processing it alone
    torch.testing.assert_close(process(raw[1:], wb[1:], cam2rgb[1:], "BGGR"), ref[1:])


def test_module_equals_function_and_white_stays_white():
    isp = ClassicalISP("GBRG")
    assert "GBRG" in repr(isp) and sum(p.numel() for p in isp.parameters()) == 0
    raw, wb = torch.rand(2, 1, 8, 8), torch.tensor([2.0, 1.0, 1.6])
    cam2rgb = cam_to_srgb_from_xyz(XYZ_TO_CAM_BROOKS[:2])
    torch.testing.assert_close(isp(raw, wb, cam2rgb), process(raw, wb, cam2rgb, "GBRG"))
    # a saturated sensor (every site at the white level) renders as sRGB white for any camera
    white = process(torch.ones(2, 1, 8, 8), wb, cam2rgb, "GBRG")
    torch.testing.assert_close(white, torch.ones_like(white))


def test_cam_to_srgb_from_xyz_inverts_rgb_to_cam():
    cam2rgb = cam_to_srgb_from_xyz(XYZ_TO_CAM_BROOKS)
    assert cam2rgb.shape == (4, 3, 3) and cam2rgb.dtype == torch.float64
    eye = torch.eye(3, dtype=torch.float64).expand(4, 3, 3)
    torch.testing.assert_close(cam2rgb @ rgb_to_cam_from_xyz(XYZ_TO_CAM_BROOKS), eye)
    torch.testing.assert_close(cam2rgb.sum(-1), torch.ones(4, 3, dtype=torch.float64))
    assert cam_to_srgb_from_xyz(XYZ_TO_CAM_BROOKS[0].float()).shape == (3, 3)
    with pytest.raises(ValueError, match="singular"):
        # xyz2cam = A @ inv(SRGB_TO_XYZ) with two equal rows in A: rgb2cam = A is singular
        a = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
        cam_to_srgb_from_xyz(a @ torch.linalg.inv(SRGB_TO_XYZ))


def test_gradients_through_process():
    g = torch.Generator().manual_seed(1)
    raw = (torch.rand(1, 1, 4, 4, generator=g, dtype=torch.float64) * 0.3 + 0.1).requires_grad_(True)
    wb = torch.tensor([[1.3, 1.0, 1.2]], dtype=torch.float64, requires_grad=True)
    cam2rgb = (torch.eye(3, dtype=torch.float64) * 0.8 + 0.05).unsqueeze(0).requires_grad_(True)
    torch.autograd.gradcheck(lambda r, w, c: process(r, w, c, "RGGB"), (raw, wb, cam2rgb))
    # float32, a whole unprocessed batch: gradients reach the RAW, the gains and the CCM
    raw, p = unprocess(smooth_images(2, 32), generator=torch.Generator().manual_seed(0))
    raw.requires_grad_(True)
    wb, c = p.wb_gains.clone().requires_grad_(True), p.cam2rgb.clone().requires_grad_(True)
    process(raw, wb, c).mean().backward()
    for t in (raw, wb, c):
        assert torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((torch.rand(1, 2, 4, 4), torch.ones(3), torch.eye(3)), r"raw must be a \(B, 1, H, W\) mosaic"),
        ((torch.rand(2, 1, 4, 4), torch.ones(2, 4), torch.eye(3)), r"wb_gains must be \(3,\) or \(2, 3\)"),
        ((torch.rand(2, 1, 4, 4), torch.ones(3), torch.eye(2)), r"ccm must be a \(3, 3\) or \(2, 3, 3\)"),
        ((torch.rand(2, 1, 4, 4), torch.ones(3), torch.eye(3), "RGBG"), "unknown CFA pattern"),
        ((torch.zeros(2, 1, 4, 4, dtype=torch.int64), torch.ones(3), torch.eye(3)), "floating-point"),
    ],
)
def test_errors_are_one_clear_line(args, match):
    with pytest.raises(ValueError, match=match) as e:
        process(*args)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
def test_malvar_demosaicing_is_dispatched(pattern):
    from rawvision.raw.demosaic import demosaic_malvar

    rgb = smooth_images(2, 64, seed=1)
    raw, p = unprocess(rgb, pattern, generator=torch.Generator().manual_seed(2))
    out = process(raw, p.wb_gains, p.cam2rgb, pattern, demosaic_method="malvar")
    x = demosaic_malvar(apply_white_balance(raw, p.wb_gains, pattern).clamp(0, 1), pattern)
    ref = smoothstep(gamma_compression(torch.einsum("bij,bjhw->bihw", p.cam2rgb, x).clamp(0, 1)))
    torch.testing.assert_close(out, ref)
    assert not torch.allclose(out, process(raw, p.wb_gains, p.cam2rgb, pattern))  # not the bilinear default
    # (its benefit on real photos, whose colour channels correlate, is checked in test_unprocess.py)


def test_unknown_demosaic_method():
    with pytest.raises(ValueError, match="nope"):
        process(torch.rand(1, 1, 4, 4), torch.ones(3), torch.eye(3), demosaic_method="nope")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_and_device_are_kept(device, dtype):
    raw = torch.rand(2, 1, 8, 8, device=device, dtype=dtype)
    out = ClassicalISP()(raw, torch.tensor([2.0, 1.0, 1.5]), cam_to_srgb_from_xyz(XYZ_TO_CAM_BROOKS[0]))
    assert out.dtype == dtype and out.device.type == device and out.shape == (2, 3, 8, 8)
    assert out.min() >= 0 and out.max() <= 1
