import os

import numpy as np
import pytest
import rawpy
import tifffile
import torch

from rawvision.raw import BAYER_PATTERNS, shift_pattern
from rawvision.raw.files import RawFileError, RawImage, read_raw, write_dng

# README.md of ../shared/data/raw: (pattern, black, white) per tile prefix / original file.
TILE_SPEC = {"s40_": ("RGGB", 32, 1023), "g2_": ("RGGB", 32, 1023), "bmpcc4k_": ("RGGB", 512, 65535)}
ORIGINALS = {
    "Canon_PowerShot_S40_CRW_0101.CRW": ("RGGB", 32, 1023, (1720, 2312), "Canon PowerShot S40"),
    "Canon_PowerShot_S40_CRW_0119.CRW": ("RGGB", 32, 1023, (1720, 2312), "Canon PowerShot S40"),
    "Canon_PowerShot_G2_CRW_0304.CRW": ("RGGB", 32, 1023, (1720, 2312), "Canon PowerShot G2"),
    "imageio_Blackmagic.dng": ("RGGB", 512, 65535, (2176, 4128), "Blackmagic Pocket Cinema Camera 4K"),
    "Kodak_DC50_DC0008L.KDC": ("GRBG", 0, 16383, (512, 768), "Kodak Digital Science DC50 Zoom Camera"),
    "rawpy_RAW_KODAK_DC50.KDC": ("GRBG", 0, 16383, (512, 768), "Kodak Digital Science DC50 Zoom Camera"),
}
XYZ_TO_CAM = np.array([[0.8606, -0.2573, -0.0949], [-0.8237, 1.5489, 0.2974], [-0.2649, 0.3076, 0.91]])


@pytest.fixture(scope="module")
def tiles(shared_raw):
    files = sorted((shared_raw / "tiles").glob("*.dng"))
    assert len(files) == 12, [f.name for f in files]
    return files


@pytest.fixture(scope="module")
def originals(shared_raw):
    """Each original read once: {name: (RawImage, rawpy raw_image_visible, raw_colors_visible[:2, :2])}."""
    out = {}
    for name in ORIGINALS:
        f = shared_raw / "originals" / name
        with rawpy.imread(str(f)) as r:
            ref, colors = r.raw_image_visible.copy(), r.raw_colors_visible[:2, :2].copy()
        out[name] = (read_raw(f), ref, colors)
    return out


def _spec(name):
    return next(v for k, v in TILE_SPEC.items() if name.startswith(k))


# ------------------------------------------------------------------------------------------ real files


def test_tiles_match_readme_and_rawpy(tiles):
    for f in tiles:
        pattern, black, white = _spec(f.name)
        img = read_raw(f)
        with rawpy.imread(str(f)) as r:
            ref = r.raw_image.copy()
        assert img.cfa.dtype == np.uint16 and img.cfa.shape == ref.shape
        assert np.array_equal(img.cfa, ref), f.name  # bit-identical (visible == full for the tiles)
        assert np.array_equal(read_raw(f, visible=False).cfa, ref), f.name
        assert img.pattern == pattern and img.white_level == white, f.name
        assert np.array_equal(img.black_level, np.full((2, 2), black, np.float32)), f.name
        assert img.wb_gains is not None and img.wb_gains[1] == 1 and np.all(img.wb_gains > 0), f.name
        assert img.make in ("Canon", "Blackmagic Design") and img.model and img.make.split()[0] in img.model
        assert img.path == str(f)


def test_tile_colour_matrices(tiles):
    import exifread

    for f in tiles:
        img = read_raw(f)
        if f.name.startswith("bmpcc4k_"):
            # ColorMatrix2 is the D65 one (CalibrationIlluminant2 = 21); decoded independently with exifread.
            with open(f, "rb") as fh:
                tags = exifread.process_file(fh, details=False)
            assert tags["Image Tag 0xC65B"].values == [21]
            cm2 = np.array([float(x.num) / x.den for x in tags["Image Tag 0xC622"].values]).reshape(3, 3)
            np.testing.assert_allclose(img.xyz_to_cam, cm2, rtol=0, atol=1e-12)
        else:
            # Canon tiles: the DNG ColorMatrix1 equals LibRaw's built-in table for the camera.
            with rawpy.imread(str(f)) as r:
                table = r.rgb_xyz_matrix[:3].astype(np.float64)
            np.testing.assert_allclose(img.xyz_to_cam, table, atol=2e-4)


@pytest.mark.parametrize("name", list(ORIGINALS))
def test_originals(originals, name):
    pattern, black, white, shape, model = ORIGINALS[name]
    img, ref, colors = originals[name]
    assert img.cfa.shape == shape and np.array_equal(img.cfa, ref)
    assert img.pattern == pattern and img.white_level == white
    assert np.array_equal(img.black_level, np.full((2, 2), black, np.float32))
    # the pattern agrees with LibRaw's colour of each visible pixel (0=R, 1=G, 2=B, 3=G2)
    assert "".join("RGBG"[c] for c in colors.ravel()) == pattern
    assert img.model == model
    assert img.bit_depth == {1023: 10, 16383: 14, 65535: 16}[white]
    if name.endswith(".KDC"):
        assert img.xyz_to_cam is None and img.make == "Eastman Kodak Company"
        assert img.exposure_time is not None and 0 < img.exposure_time < 1
    elif name.endswith(".CRW"):
        assert img.make == "Canon" and img.xyz_to_cam is not None and img.iso == 50
        assert img.exposure_time is not None and 0 < img.exposure_time < 1
    else:  # Blackmagic: 12-bit lossless JPEG + LinearizationTable -> 16-bit values, white 65535
        assert img.make is None and img.xyz_to_cam is not None
        assert 60000 < int(img.cfa.max()) <= 65472


def test_crw_visible_vs_full(shared_raw, originals):
    name = "Canon_PowerShot_S40_CRW_0101.CRW"
    vis = originals[name][0]
    full = read_raw(shared_raw / "originals" / name, visible=False)
    assert full.cfa.shape == (1728, 2376)
    assert np.array_equal(full.cfa[6 : 6 + 1720, 12 : 12 + 2312], vis.cfa)  # top 6, left 12 masked (even)
    assert full.pattern == vis.pattern == "RGGB"


def test_normalized_and_tensor(tiles):
    img = read_raw(next(f for f in tiles if f.name.startswith("bmpcc4k_")))
    n = img.normalized()
    assert n.dtype == np.float32 and n.shape == img.cfa.shape and n.min() >= 0 and n.max() <= 1
    raw = img.normalized(clip=False)
    assert raw.min() < 0  # this frame has values below the black level (512)
    y, x = np.unravel_index(np.argmax(img.cfa), img.cfa.shape)
    assert raw[y, x] == pytest.approx((float(img.cfa[y, x]) - 512) / (65535 - 512))
    t = img.to_tensor()
    assert t.shape == (1, 1, *img.cfa.shape) and t.dtype == torch.float32
    assert torch.equal(t[0, 0], torch.from_numpy(n))
    assert torch.equal(img.to_tensor(normalize=False)[0, 0], torch.from_numpy(img.cfa.astype(np.float32)))


def test_crop(tiles):
    img = read_raw(tiles[0])
    c = img.crop(2, 4, 6, 10)
    assert np.array_equal(c.cfa, img.cfa[2:8, 4:14]) and c.pattern == img.pattern
    assert np.array_equal(c.black_level, img.black_level) and c.white_level == img.white_level
    with pytest.raises(ValueError, match=r"crop offset \(3, 0\) is odd"):
        img.crop(3, 0, 4, 4)
    with pytest.raises(ValueError, match="not inside"):
        img.crop(0, 0, img.cfa.shape[0] + 2, 4)
    with pytest.raises(ValueError, match="not inside"):
        img.crop(-2, 0, 4, 4)


@pytest.mark.parametrize("offset", [(0, 1), (1, 0), (1, 1), (3, 2)])
def test_odd_crop_shifts_pattern_and_black(tmp_path, offset):
    rng = np.random.default_rng(0)
    cfa = rng.integers(40, 4000, (24, 26)).astype(np.uint16)
    img = read_raw(write_dng(tmp_path / "b.dng", cfa, "GRBG", black_level=[[10, 20], [30, 40]], white_level=4095))
    dy, dx = offset
    c = img.crop(dy, dx, 20, 21, keep_phase=False)
    assert c.pattern == shift_pattern("GRBG", dy, dx)
    assert np.array_equal(c.cfa, cfa[dy : dy + 20, dx : dx + 21])
    assert np.array_equal(c.black_map(), img.black_map()[dy : dy + 20, dx : dx + 21])
    assert np.array_equal(c.normalized(), img.normalized()[dy : dy + 20, dx : dx + 21])


# ------------------------------------------------------------------------------------------ write_dng


@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
def test_write_dng_round_trip(tmp_path, pattern):
    rng = np.random.default_rng(1)
    cfa = rng.integers(0, 4096, (34, 50)).astype(np.uint16)
    path = write_dng(tmp_path / "x.dng", cfa, pattern, black_level=[[10, 20], [30, 40]], white_level=4095,
                     wb_gains=[2.0, 1.0, 1.5], xyz_to_cam=XYZ_TO_CAM, make="rawvision", model="test",
                     description="round trip")
    assert os.listdir(tmp_path) == ["x.dng"]  # no temporary file left
    img = read_raw(path)
    assert np.array_equal(img.cfa, cfa) and img.pattern == pattern and img.white_level == 4095
    assert np.array_equal(img.black_level, np.array([[10, 20], [30, 40]], np.float32))
    np.testing.assert_allclose(img.wb_gains, [2.0, 1.0, 1.5], rtol=1e-5)
    np.testing.assert_allclose(img.xyz_to_cam, XYZ_TO_CAM, atol=1e-6)
    assert (img.make, img.model) == ("rawvision", "test")
    with tifffile.TiffFile(path) as tf:
        tags = tf.pages[0].tags
        assert tags["PhotometricInterpretation"].value == 32803 and tags["DNGVersion"].value == b"\x01\x04\x00\x00"
        assert tags["ImageDescription"].value == "round trip" and tags["CalibrationIlluminant1"].value == 21
    with rawpy.imread(str(path)) as r:
        assert r.postprocess().shape == (34, 50, 3)
        # LibRaw does not report a DNG's ColorMatrix in rgb_xyz_matrix (only its own table by make/model)
        assert not np.any(r.rgb_xyz_matrix)


def test_write_dng_minimal_and_overwrite(tmp_path):
    cfa = np.arange(24 * 22, dtype=np.uint16).reshape(24, 22) * 7
    p = write_dng(tmp_path / "m.dng", cfa, "rggb")
    p = write_dng(p, cfa + 1, "BGGR", black_level=64, white_level=1023)  # atomic replace of an existing file
    img = read_raw(p)
    assert np.array_equal(img.cfa, cfa + 1) and img.pattern == "BGGR" and img.white_level == 1023
    assert img.wb_gains is None and img.xyz_to_cam is None and img.make is None and img.model == "rawvision"
    assert sorted(os.listdir(tmp_path)) == ["m.dng"]


@pytest.mark.parametrize(
    "cfa, kwargs, match",
    [
        (np.zeros((2, 4, 4), np.uint16), {}, "2-D"),
        (np.full((4, 4), 0.5), {}, "integers"),
        (np.full((4, 4), 70000), {}, "integers"),
        (np.zeros((4, 4), np.uint16), {"pattern": "RGBG"}, "unknown CFA pattern"),
        (np.zeros((4, 4), np.uint16), {"black_level": 1023, "white_level": 1023}, "below the white level"),
        (np.zeros((4, 4), np.uint16), {"black_level": [1, 2, 3]}, "black_level"),
        (np.zeros((4, 4), np.uint16), {"wb_gains": [2, 0, 1]}, "wb_gains"),
        (np.zeros((4, 4), np.uint16), {"xyz_to_cam": np.eye(4)}, "xyz_to_cam"),
    ],
)
def test_write_dng_rejects_bad_input(tmp_path, cfa, kwargs, match):
    pattern = kwargs.pop("pattern", "RGGB")
    with pytest.raises(ValueError, match=match):
        write_dng(tmp_path / "bad.dng", cfa, pattern, **kwargs)
    assert os.listdir(tmp_path) == []


def test_active_area_pattern_follows_libraw(tmp_path):
    # DNG CFAPattern is relative to the ActiveArea origin (1, 3); LibRaw rounds the margins to even (2, 4).
    cfa = np.random.default_rng(2).integers(0, 4096, (64, 96)).astype(np.uint16)
    active_area = (50829, 4, 4, (1, 3, 63, 95), True)  # top, left, bottom, right
    _write_test_dng(tmp_path / "aa.dng", cfa, 32803, _dng_tags(b"\x00\x01\x01\x02") + [active_area])
    full, vis = read_raw(tmp_path / "aa.dng", visible=False), read_raw(tmp_path / "aa.dng")
    with rawpy.imread(str(tmp_path / "aa.dng")) as r:
        s, colors = r.sizes, r.raw_colors_visible[:2, :2].copy()
    assert np.array_equal(full.cfa, cfa) and full.pattern == shift_pattern("RGGB", -1, -3)
    assert np.array_equal(vis.cfa, cfa[s.top_margin : s.top_margin + s.height, s.left_margin : s.left_margin + s.width])
    assert vis.pattern == shift_pattern(full.pattern, s.top_margin, s.left_margin)
    assert vis.pattern == "".join("RGBG"[c] for c in colors.ravel())


def test_tiny_dng_is_written_but_libraw_refuses_it(tmp_path):
    p = write_dng(tmp_path / "tiny.dng", np.zeros((4, 4), np.uint16), "RGGB")
    with pytest.raises(RawFileError, match="tiny.dng: not a RAW file .*4x4 px .*under 22x22"):
        read_raw(p)


def test_truncated_crw_is_named(shared_raw, tmp_path):
    data = (shared_raw / "originals" / "Canon_PowerShot_S40_CRW_0101.CRW").read_bytes()
    p = tmp_path / "cut.CRW"
    p.write_bytes(data[: len(data) // 2])  # the CIFF directory is at the end: LibRaw sees no RAW file
    with pytest.raises(RawFileError, match="cut.CRW: not a RAW file .*CIFF.*truncated"):
        read_raw(p)


def test_rawimage_validates():
    with pytest.raises(ValueError, match="white level"):
        RawImage(np.zeros((4, 4), np.uint16), "RGGB", black_level=100, white_level=100)
    with pytest.raises(ValueError, match="unknown CFA pattern"):
        RawImage(np.zeros((4, 4), np.uint16), "XYZW", black_level=0, white_level=100)


# ------------------------------------------------------------------------------------------ bad files


def _dng_tags(cfa_pattern=None, dim=(2, 2), plane=b"\x00\x01\x02"):
    tags = [(50706, 1, 4, b"\x01\x04\x00\x00", True), (50708, 2, None, "rawvision test", True),
            (50714, 4, 1, 0, True), (50717, 4, 1, 4095, True)]
    if cfa_pattern is not None:
        tags += [(33421, 3, 2, dim, True), (33422, 1, len(cfa_pattern), cfa_pattern, True),
                 (50710, 1, len(plane), plane, True)]
    return tags


def _write_test_dng(path, data, photometric, tags):
    tifffile.imwrite(path, data, photometric=photometric, subfiletype=0, metadata=None, extratags=tags)
    return path


def _linear_dng(path):
    rgb = np.random.default_rng(3).integers(0, 4096, (24, 32, 3)).astype(np.uint16)
    return _write_test_dng(path, rgb, 34892, _dng_tags())  # LinearRaw: 3 samples per pixel


def _xtrans_dng(path):
    xt = np.array([[1, 1, 0, 1, 1, 2], [1, 1, 2, 1, 1, 0], [2, 0, 1, 0, 2, 1],
                   [1, 1, 2, 1, 1, 0], [1, 1, 0, 1, 1, 2], [0, 2, 1, 2, 0, 1]], np.uint8)
    return _write_test_dng(path, np.zeros((24, 36), np.uint16), 32803, _dng_tags(xt.tobytes(), (6, 6)))


def _cmyg_dng(path):  # CFAPlaneColor cyan, magenta, yellow, green
    tags = _dng_tags(b"\x00\x01\x02\x03", plane=b"\x03\x04\x05\x01")
    return _write_test_dng(path, np.zeros((24, 36), np.uint16), 32803, tags)


def _jpeg(path):
    from PIL import Image

    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(path, format="JPEG")
    return path


def _png(path):
    from PIL import Image

    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(path, format="PNG")
    return path


def _truncated(path, keep):
    src = write_dng(path.with_name("full.dng"), np.ones((256, 256), np.uint16), "RGGB")
    data = src.read_bytes()
    path.write_bytes(data[: keep(len(data))])
    return path


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: p / "missing.dng", "not found"),
        (lambda p: p, "not a file"),
        (lambda p: _jpeg(p / "photo.jpg"), "not a RAW file LibRaw can read"),
        (lambda p: _png(p / "photo.png"), "not a RAW file LibRaw can read"),
        (lambda p: _truncated(p / "half.dng", lambda n: n // 2), "truncated"),
        (lambda p: _truncated(p / "head1k.dng", lambda n: 1024), "truncated"),
        (lambda p: _truncated(p / "empty.dng", lambda n: 0), "not a RAW file"),
        (lambda p: _linear_dng(p / "linear.dng"), "not a Bayer sensor"),
        (lambda p: _xtrans_dng(p / "xtrans.dng"), "not a Bayer sensor .*6x6"),
        (lambda p: _cmyg_dng(p / "cmyg.dng"), "not a Bayer sensor"),
    ],
    ids=["missing", "folder", "jpeg", "png", "truncated-half", "truncated-1k", "empty", "linear", "xtrans", "cmyg"],
)
def test_bad_files_raise_one_line(tmp_path, make, match):
    path = make(tmp_path)
    with pytest.raises(RawFileError, match=match) as e:
        read_raw(path)
    msg = str(e.value)
    assert "\n" not in msg and path.name in msg and isinstance(e.value, ValueError)
