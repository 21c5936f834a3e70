import numpy as np
import pytest
import rawpy
import torch

from rawvision.bench.raw_quality import psnr
from rawvision.raw.files import RawFileError, read_raw
from rawvision.raw.isp import cam_to_srgb_from_xyz, process
from rawvision.raw.render import render_libraw


def test_libraw_rendering_is_aligned_with_the_mosaic(shared_raw):
    f = shared_raw / "tiles" / "s40_0118_camera.dng"
    rgb = render_libraw(f)
    assert rgb.shape == (768, 1024, 3) and rgb.dtype == np.uint8
    with pytest.raises(RawFileError, match="not pixel-aligned"):
        render_libraw(f, half_size=True)


def test_our_isp_matches_libraw_with_matched_settings(shared_raw):
    # White balance, bilinear demosaic, the file's colour matrix, sRGB, pure 2.2 gamma: LibRaw's LINEAR demosaic
    # with the same options must agree to within 16-bit rounding. A wrong gain, matrix or CFA phase costs > 20 dB.
    f = shared_raw / "tiles" / "g2_0305_colorchecker.dng"
    img = read_raw(f)
    ref = render_libraw(f, demosaic_algorithm=rawpy.DemosaicAlgorithm.LINEAR, no_auto_bright=True, gamma=(2.2, 0),
                        output_bps=16, highlight_mode=rawpy.HighlightMode.Clip)
    ref = torch.from_numpy(ref.astype(np.float64) / 65535).permute(2, 0, 1)[None]
    cam2rgb = cam_to_srgb_from_xyz(torch.as_tensor(img.xyz_to_cam))
    ours = process(img.to_tensor().double(), torch.as_tensor(img.wb_gains), cam2rgb, img.pattern, "bilinear",
                   tone_curve=False)
    assert float(psnr(ours, ref)[0]) > 60
    for wrong_pattern in ("GRBG", "BGGR"):  # the wrong CFA phase
        wrong = process(img.to_tensor().double(), torch.as_tensor(img.wb_gains), cam2rgb, wrong_pattern, "bilinear",
                        tone_curve=False)
        assert float(psnr(wrong, ref)[0]) < 35
    wrong_gains = torch.as_tensor(img.wb_gains) * torch.tensor([1.2, 1.0, 0.8], dtype=torch.float64)
    wrong = process(img.to_tensor().double(), wrong_gains, cam2rgb, img.pattern, "bilinear", tone_curve=False)
    assert float(psnr(wrong, ref)[0]) < 35
