import importlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rawvision.raw import BAYER_PATTERNS, cfa_masks, demosaic_bilinear, mosaic
from rawvision.raw.demosaic import DEMOSAIC_METHODS, demosaic, demosaic_malvar

demosaic_module = importlib.import_module("rawvision.raw.demosaic")  # the module, even if a package exports demosaic()


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


# --------------------------------------------------------------------------------------------------------------------
# The polyphase implementation (bilinear and Malvar), the dispatcher.
# --------------------------------------------------------------------------------------------------------------------

def _bilinear_reference(raw, pattern):
    """The previous demosaic_bilinear (masks, sparse 3-channel tensor, grouped conv), kept as the reference."""
    masks = cfa_masks(pattern, raw.shape[-2], raw.shape[-1], device=raw.device, dtype=raw.dtype)
    k_rb = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 4
    k_g = torch.tensor([[0.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 0.0]]) / 4
    weight = torch.stack([k_rb, k_g, k_rb]).to(device=raw.device, dtype=raw.dtype).unsqueeze(1)
    return F.conv2d(F.pad(raw * masks, (1, 1, 1, 1), mode="reflect"), weight, groups=3)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shape", [(2, 1, 20, 26), (1, 1, 21, 27), (1, 1, 2, 2), (3, 1, 3, 5)])
@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
def test_bilinear_unchanged_from_the_previous_implementation(pattern, shape, dtype):
    raw = torch.rand(shape, dtype=dtype, generator=torch.Generator().manual_seed(3))
    ours, ref = demosaic_bilinear(raw, pattern), _bilinear_reference(raw, pattern)
    # Same sums of the same products: equal up to the order of a 4-term sum (a few ulp).
    assert ours.shape == ref.shape and ours.dtype == ref.dtype
    assert (ours - ref).abs().max() <= 2 * torch.finfo(dtype).eps * ref.abs().max()


@pytest.mark.parametrize("shape", [(20, 26), (21, 27), (7, 9)])
@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
def test_malvar_matches_colour_demosaicing_interior(pattern, shape):
    colour_demosaicing = pytest.importorskip("colour_demosaicing")
    rgb = torch.rand(2, 3, *shape, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    raw = mosaic(rgb, pattern)
    ours = demosaic_malvar(raw, pattern).permute(0, 2, 3, 1).numpy()
    for b in range(2):
        ref = colour_demosaicing.demosaicing_CFA_Bayer_Malvar2004(raw[b, 0].numpy(), pattern)
        # colour-demosaicing pads by scipy's "reflect" (row -1 = row 0), ours by torch's (row -1 = row 1): the
        # 2-pixel border differs, the interior must not.
        np.testing.assert_allclose(ours[b, 2:-2, 2:-2], ref[2:-2, 2:-2], rtol=0, atol=1e-10)
        assert np.abs(ours[b] - ref).max() > 1e-6  # the border does differ: the comparison above is not vacuous


@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
def test_malvar_keeps_recorded_values_and_reproduces_constant_and_linear_images(pattern):
    raw = torch.rand(2, 1, 14, 17, generator=torch.Generator().manual_seed(5))
    out = demosaic_malvar(raw, pattern)
    assert torch.equal(mosaic(out, pattern), raw)  # recorded values exactly
    const = torch.tensor([0.2, 0.5, 0.9], dtype=torch.float64).view(1, 3, 1, 1).expand(1, 3, 11, 12)
    torch.testing.assert_close(demosaic_malvar(mosaic(const, pattern), pattern), const, rtol=0, atol=1e-14)
    # A linear image (a different plane per channel) is reproduced away from the reflect-padded border.
    yy, xx = torch.meshgrid(torch.arange(12.0), torch.arange(13.0), indexing="ij")
    planes = torch.stack([0.1 + 0.02 * yy + 0.03 * xx, 0.5 - 0.01 * yy + 0.02 * xx, 0.2 + 0.04 * yy - 0.01 * xx])
    lin = planes[None].double()
    torch.testing.assert_close(demosaic_malvar(mosaic(lin, pattern), pattern)[..., 2:-2, 2:-2], lin[..., 2:-2, 2:-2])


def test_malvar_gradient_flows_and_is_the_adjoint():
    g = torch.Generator().manual_seed(8)
    assert torch.autograd.gradcheck(lambda x: demosaic_malvar(x, "GRBG"), (torch.rand(1, 1, 3, 4, dtype=torch.float64,
                                    generator=g, requires_grad=True),), fast_mode=True)
    for pattern in BAYER_PATTERNS:
        raw = torch.rand(2, 1, 9, 10, dtype=torch.float64, generator=g, requires_grad=True)
        probe = torch.randn(2, 3, 9, 10, dtype=torch.float64, generator=g)
        out = demosaic_malvar(raw, pattern)
        (grad,) = torch.autograd.grad((out * probe).sum(), raw)
        # Linear map A: the gradient of <A x, y> is A^T y, hence <A x, y> = <x, A^T y>.
        torch.testing.assert_close((out * probe).sum(), (raw * grad).sum())
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0


@pytest.mark.parametrize("method", DEMOSAIC_METHODS)
def test_autograd_path_and_fast_path_agree_exactly(method, monkeypatch):
    """The CPU fast path (integer-view copies, strips of rows) must give the graph-keeping path's values."""
    monkeypatch.setattr(demosaic_module, "_STRIP_ELEMENTS", 12 * 16 * 3)  # several strips on a small image
    raw = torch.rand(2, 1, 37, 62, generator=torch.Generator().manual_seed(6))
    fast = demosaic(raw, "GBRG", method)
    slow = demosaic(raw.clone().requires_grad_(True), "GBRG", method)
    assert slow.requires_grad and not fast.requires_grad
    assert torch.equal(fast, slow.detach())
    assert torch.equal(demosaic(raw[1:], "GBRG", method), fast[1:])  # batched = per sample


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_malvar_keeps_dtype_and_device(dtype):
    raw64 = torch.rand(1, 1, 10, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    out = demosaic_malvar(raw64.to(dtype), "GRBG")
    assert out.dtype == dtype and out.device == raw64.device and out.shape == (1, 3, 10, 12)
    tol = {torch.float16: 1e-2, torch.bfloat16: 5e-2}.get(dtype, 1e-6)
    torch.testing.assert_close(out.double(), demosaic_malvar(raw64, "GRBG"), rtol=0, atol=tol)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("method", DEMOSAIC_METHODS)
def test_cuda_matches_cpu(method):
    raw = torch.rand(2, 1, 33, 40)
    out = demosaic(raw.cuda(), "BGGR", method)
    assert out.is_cuda and out.dtype == torch.float32
    torch.testing.assert_close(out.cpu(), demosaic(raw, "BGGR", method), rtol=0, atol=1e-6)  # no TF32
    assert torch.equal(mosaic(out, "BGGR").cpu(), raw)


@pytest.mark.parametrize("method", DEMOSAIC_METHODS)
@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
def test_matmul_path_equals_the_convolution(method, pattern, monkeypatch):
    """The CUDA float32 path (unfold + matmul, no TF32 by default, no global flag), exercised on the CPU."""
    raw = torch.rand(2, 1, 13, 18, generator=torch.Generator().manual_seed(4))
    ref = demosaic(raw, pattern, method)
    planes = torch.rand(2, 4, 9, 11, generator=torch.Generator().manual_seed(5))
    w = demosaic_module._polyphase_weight(method, pattern, torch.float32, torch.device("cpu"))
    torch.testing.assert_close(demosaic_module._conv_as_matmul(planes, w), F.conv2d(planes, w), rtol=0, atol=1e-6)
    calls = []
    monkeypatch.setattr(demosaic_module, "_matmul_path", lambda t: calls.append(t.shape) or True)
    before = (torch.backends.cudnn.allow_tf32, torch.get_float32_matmul_precision())
    x = raw.clone().requires_grad_(True)  # autograd: the general path (CPU without it takes the strip path)
    out = demosaic(x, pattern, method)
    assert calls, "the matmul path was not taken"
    assert (torch.backends.cudnn.allow_tf32, torch.get_float32_matmul_precision()) == before  # no global toggled
    assert out.shape == ref.shape and out.is_contiguous()
    torch.testing.assert_close(out.detach(), ref, rtol=0, atol=1e-6)
    assert torch.equal(mosaic(out.detach(), pattern), raw)  # recorded values exact
    out.sum().backward()
    monkeypatch.setattr(demosaic_module, "_matmul_path", lambda t: False)
    x_ref = raw.clone().requires_grad_(True)
    demosaic(x_ref, pattern, method).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=0, atol=1e-5)


def test_no_process_global_precision_switch():
    assert not hasattr(demosaic_module, "_ieee_fp32")
    assert demosaic_module._matmul_path(torch.zeros(1)) is False  # CPU: the convolution, as always


def test_dispatcher_and_errors():
    raw = torch.rand(1, 1, 8, 10)
    assert DEMOSAIC_METHODS == ("bilinear", "malvar")
    assert torch.equal(demosaic(raw, "RGGB", "Malvar"), demosaic_malvar(raw, "RGGB"))
    assert torch.equal(demosaic(raw), demosaic_bilinear(raw))
    with pytest.raises(ValueError, match="unknown demosaicing method 'ahd'"):
        demosaic(raw, "RGGB", "ahd")
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        demosaic_malvar(torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        demosaic_malvar(torch.rand(8, 8))
    with pytest.raises(ValueError, match="H, W >= 3"):
        demosaic_malvar(torch.rand(1, 1, 2, 8))
    with pytest.raises(ValueError, match="H, W >= 2"):
        demosaic_bilinear(torch.rand(1, 1, 8, 1))
    with pytest.raises(ValueError, match="floating-point"):
        demosaic_malvar(torch.zeros(1, 1, 8, 8, dtype=torch.int64))
    with pytest.raises(ValueError, match="unknown CFA pattern"):
        demosaic_malvar(raw, "RGBG")
    assert demosaic_malvar(torch.rand(1, 1, 3, 3)).shape == (1, 3, 3, 3)  # the smallest size


def test_weights_first_built_in_inference_mode_still_serve_autograd():
    # Lightning's test loop runs in inference mode; a kernel cached there must not break a later backward pass.
    import importlib

    dm = importlib.import_module("rawvision.raw.demosaic")
    dm._WEIGHTS.clear()
    dm._polyphase_weight_cpu.cache_clear()
    with torch.inference_mode():
        dm.demosaic(torch.rand(1, 1, 8, 8), "GBRG", "malvar")
    raw = torch.rand(1, 1, 8, 8, requires_grad=True)
    dm.demosaic(raw, "GBRG", "malvar").sum().backward()
    assert raw.grad is not None and torch.isfinite(raw.grad).all()
