import random

import numpy as np
import pytest
import torch
from PIL import Image

from rawvision.data.pairs import (
    pairs_from_folder,
    pairs_from_hdrplus,
    pairs_from_raw_files,
    pairs_from_rgb_folder,
    source_frame,
    split_groups,
)
from rawvision.data.photos import DataError
from rawvision.raw.files import read_raw, write_dng


def _frame(h=64, w=96, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(64, 1000, (h, w), dtype=np.uint16)


def _rgb_png(path, h, w, seed=0):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)


def test_pair_folder_reads_aligned_pairs_and_rejects_a_size_mismatch(tmp_path):
    cfa = _frame()
    write_dng(tmp_path / "a.dng", cfa, "GRBG", black_level=64, white_level=1023)
    _rgb_png(tmp_path / "a.png", 64, 96)
    (p,) = pairs_from_folder(tmp_path)
    assert p.pattern == "GRBG" and p.raw.shape == (1, 64, 96) and p.rgb.shape == (3, 64, 96)
    np.testing.assert_allclose(p.raw[0].numpy(), np.clip((cfa - 64) / (1023 - 64), 0, 1), atol=1e-6)
    _rgb_png(tmp_path / "a.png", 64, 90)
    with pytest.raises(DataError, match=r"a\.png is 90x64 px but the RAW is 96x64"):
        pairs_from_folder(tmp_path)
    (tmp_path / "a.png").unlink()
    with pytest.raises(DataError, match="a.dng has no RGB rendering"):
        pairs_from_folder(tmp_path)


def test_pair_folder_with_a_jpeg_passed_as_raw_names_the_file(tmp_path):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "fake.dng", format="JPEG")
    _rgb_png(tmp_path / "fake.png", 8, 8)
    with pytest.raises(ValueError, match="fake.dng"):
        pairs_from_folder(tmp_path)


def _burst(root, name, ref=None, final_size=(64, 96)):
    d = root / name
    d.mkdir()
    frames = [_frame(seed=i) for i in range(3)]
    for i, f in enumerate(frames):
        write_dng(d / f"payload_N{i:03d}.dng", f, "BGGR", black_level=64, white_level=1023)
    merged = np.clip(np.mean(frames, axis=0), 0, 1023).astype(np.uint16)
    write_dng(d / "merged.dng", merged, "BGGR", black_level=64, white_level=1023)
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (*final_size, 3), dtype=np.uint8)).save(d / "final.jpg", quality=95)
    if ref is not None:
        (d / "reference_frame.txt").write_text(f"{ref}\n")
    return frames, merged


def test_hdrplus_layout_merged_and_reference_short_frame(tmp_path):
    frames, merged = _burst(tmp_path, "0001_20161001", ref=2)
    _burst(tmp_path, "0002_20161002", final_size=(32, 48))  # half-size final.jpg: resized to the RAW grid
    m = pairs_from_hdrplus(tmp_path, "merged")
    s = pairs_from_hdrplus(tmp_path, "short")
    assert [p.group for p in m] == ["0001_20161001", "0002_20161002"] == [p.group for p in s]
    assert all(p.rgb.shape == (3, 64, 96) and p.pattern == "BGGR" for p in m + s)
    np.testing.assert_allclose(m[0].raw[0].numpy(), np.clip((merged - 64) / 959, 0, 1), atol=1e-6)
    np.testing.assert_allclose(s[0].raw[0].numpy(), np.clip((frames[2] - 64) / 959, 0, 1), atol=1e-6)  # reference_frame.txt
    assert s[1].name.endswith("payload_N000.dng")  # no reference_frame.txt: the first frame
    assert torch.equal(m[0].rgb, s[0].rgb)  # both experiments share the final RGB


def test_hdrplus_errors(tmp_path):
    _burst(tmp_path, "b1", final_size=(64, 64))
    with pytest.raises(DataError, match="different aspect ratio"):
        pairs_from_hdrplus(tmp_path)
    (tmp_path / "b1" / "merged.dng").unlink()
    with pytest.raises(DataError, match="burst b1: merged.dng is missing"):
        pairs_from_hdrplus(tmp_path)
    with pytest.raises(DataError, match="no burst folder"):
        pairs_from_hdrplus(tmp_path / "b1")


def test_synthetic_pairs_from_rgb_folder(tmp_path):
    for i in range(2):
        _rgb_png(tmp_path / f"p{i}.png", 40, 50, seed=i)
    mos = pairs_from_rgb_folder(tmp_path, pattern="GBRG", unprocess=False)
    assert len(mos) == 2 and mos[0].pattern == "GBRG"
    from rawvision.raw import mosaic

    torch.testing.assert_close(mos[0].raw[None], mosaic(mos[0].rgb[None].float() / 255, "GBRG"))
    unp = pairs_from_rgb_folder(tmp_path, unprocess=True, seed=3)
    unp2 = pairs_from_rgb_folder(tmp_path, unprocess=True, seed=3)
    assert torch.equal(unp[0].raw, unp2[0].raw) and not torch.equal(unp[0].raw, mos[0].raw)
    assert len(unp[0].meta["wb_gains"]) == 3


def test_real_tiles_pair_with_libraw_rendering(shared_raw):
    tiles = sorted((shared_raw / "tiles").glob("*.dng"))
    pairs = pairs_from_raw_files(tiles[:1] + tiles[-1:])
    for p, f in zip(pairs, tiles[:1] + tiles[-1:]):
        img = read_raw(f)
        assert p.raw.shape[1:] == img.cfa.shape and p.rgb.shape[1:] == img.cfa.shape and p.rgb.dtype == torch.uint8
        assert p.pattern == img.pattern == "RGGB"
    # overlapping crops of one frame share a group; the group names the source frame
    assert source_frame(shared_raw / "tiles" / "s40_0119_canon_text.dng") == source_frame(
        shared_raw / "tiles" / "s40_0119_fruit_flowers.dng"
    )
    assert "CRW_0119.CRW" in source_frame(shared_raw / "tiles" / "s40_0119_canon_text.dng")


def _split_groups_before(pairs, test_fraction, seed):
    """split_groups as it was before split_by_group."""
    groups = sorted({p.group for p in pairs})
    random.Random(seed).shuffle(groups)
    n_test = max(1, round(test_fraction * len(groups))) if test_fraction > 0 else 0
    test_groups = set(groups[:n_test])
    return [p for p in pairs if p.group not in test_groups], [p for p in pairs if p.group in test_groups]


def test_split_groups_is_the_split_it_always_was():
    from rawvision.data.pairs import RawPair

    rng = random.Random(0)
    for n_groups in (2, 3, 4, 7, 15):
        groups = [f"frame{rng.randrange(n_groups)}" for _ in range(3 * n_groups)]
        groups += [f"frame{g}" for g in range(n_groups)]
        pairs = [RawPair(torch.zeros(1, 2, 2), torch.zeros(3, 2, 2, dtype=torch.uint8), "RGGB", f"c{i}", g)
                 for i, g in enumerate(groups)]
        for seed in (0, 1, 5):
            for f in (0.0, 0.1, 0.2, 0.3, 0.5):
                old = _split_groups_before(pairs, f, seed)
                assert old[0] and split_groups(pairs, f, seed) == old, (n_groups, seed, f)
    with pytest.raises(DataError, match=r"fraction must be in \[0, 1\)"):
        split_groups(pairs, 1.0)
