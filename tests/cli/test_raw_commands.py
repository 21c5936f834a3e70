"""``rawvision simulate`` and ``rawvision isp``: what they write, and one ``error:`` line for bad input."""

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from rawvision.cli.main import cli
from rawvision.data.pairs import pairs_from_folder
from rawvision.raw.files import read_raw


@pytest.fixture()
def photos(tmp_path, random_photos):
    return random_photos(tmp_path / "photos", 2, 33, 48)


def _one_error(res, *needles):
    err = res.stderr.strip().splitlines()
    assert res.exit_code == 2, res.output
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert "Traceback" not in res.output
    for n in needles:
        assert n in err[0], err[0]


@pytest.mark.parametrize("noise", ["none", "gaussian", "shot-read"])
def test_simulate_writes_a_pair_folder_that_reads_back(photos, tmp_path, noise):
    out = tmp_path / "pairs"
    res = CliRunner().invoke(cli, ["simulate", str(photos), str(out), "--pattern", "GBRG", "--noise", noise,
                                   "--black-level", "200", "--white-level", "4095"])
    assert res.exit_code == 0, res.output
    pairs = pairs_from_folder(out)
    assert [p.name for p in pairs] == ["p0", "p1"]
    for p in pairs:
        assert p.pattern == "GBRG" and p.raw.shape == (1, 32, 48)  # odd height cropped to whole 2x2 blocks
    img = read_raw(out / "p0.dng")
    assert img.white_level == 4095 and np.all(img.black_level == 200) and img.wb_gains is not None
    assert img.xyz_to_cam is not None
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*"))  # nothing half-written left


def test_simulate_short_exposure_is_darker_only_in_noise_not_in_mean(photos, tmp_path):
    base = ["simulate", str(photos)]
    r1 = CliRunner().invoke(cli, base + [str(tmp_path / "long"), "--noise", "none", "--format", "npy"])
    r2 = CliRunner().invoke(cli, base + [str(tmp_path / "short"), "--exposure-ratio", "16", "--format", "npy"])
    assert r1.exit_code == 0 and r2.exit_code == 0, r1.output + r2.output
    long, short = np.load(tmp_path / "long" / "p0.npy"), np.load(tmp_path / "short" / "p0.npy")
    assert long.shape == short.shape == (32, 48)
    assert abs(short.mean() - long.mean()) < 0.1 and np.std(short - long) > 0.01  # brightened back, much noisier
    assert (tmp_path / "short" / "p0.json").is_file()


def test_simulate_bad_input(photos, tmp_path):
    _one_error(CliRunner().invoke(cli, ["simulate", str(tmp_path / "nope"), str(tmp_path / "o")]), "nope")
    _one_error(CliRunner().invoke(cli, ["simulate", str(photos), str(tmp_path / "o"), "--pattern", "RGBG"]), "RGBG")
    _one_error(CliRunner().invoke(cli, ["simulate", str(photos), str(tmp_path / "o"), "--exposure-ratio", "0.5"]),
               "exposure ratio")
    _one_error(CliRunner().invoke(cli, ["simulate", str(photos), str(tmp_path / "o"), "--white-level", "70000"]),
               "white level")


def test_isp_renders_a_dng_and_rejects_non_raw(tmp_path):
    from rawvision.raw.files import write_dng

    rng = np.random.default_rng(0)
    write_dng(tmp_path / "x.dng", rng.integers(0, 1024, (32, 40), dtype=np.uint16), "RGGB", black_level=32,
              white_level=1023, wb_gains=[2.0, 1.0, 1.5])
    res = CliRunner().invoke(cli, ["isp", str(tmp_path / "x.dng"), "--out", str(tmp_path / "x.png")])
    assert res.exit_code == 0, res.output
    assert Image.open(tmp_path / "x.png").size == (40, 32)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "photo.jpg")
    _one_error(CliRunner().invoke(cli, ["isp", str(tmp_path / "photo.jpg"), "--out", str(tmp_path / "y.png")]),
               "photo.jpg")
    assert not (tmp_path / "y.png").exists()
    _one_error(CliRunner().invoke(cli, ["isp", str(tmp_path / "x.dng"), "--out", str(tmp_path / "y.jpg")]), ".png")
    _one_error(CliRunner().invoke(cli, ["isp", str(tmp_path / "missing.dng")]), "missing.dng")


def test_detect_trains_and_reports_ap(tmp_path, tiny_coco, lite0):
    root = tiny_coco(tmp_path / "set", n_train=2, n_val=2)
    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["detect", "--root", str(root), "--photos", "none", "--max-steps", "1",
                                   "--batch-size", "2", "--min-size", "64", "--max-size", "64",
                                   "--fpn-channels", "16", "--ta-isp-modules", "glc,hsa,rgfm", "--low-light",
                                   "--ta-isp-weight-range", "2,4", "--no-progress", "--accelerator", "cpu",
                                   "--output-dir", str(tmp_path), "--run-name", "run"])
    assert res.exit_code == 0, res.output
    assert '"AP"' in res.stdout and (out / "metrics.json").is_file()
    assert (out / "checkpoints" / "last.ckpt").is_file()
    ckpt = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert tuple(ckpt["hyper_parameters"]["ta_isp_weight_range"]) == (2.0, 4.0)


def test_detect_bad_input(tmp_path, tiny_coco):
    out = ["--output-dir", str(tmp_path / "runs"), "--photos", "none"]
    _one_error(CliRunner().invoke(cli, ["detect", "--root", str(tmp_path / "none"), *out]), "no train.json")
    root = tiny_coco(tmp_path / "set", n_train=1, n_val=1)
    (root / "val.json").write_text((root / "val.json").read_text().replace('"category_id": 3', '"category_id": 99'))
    _one_error(CliRunner().invoke(cli, ["detect", "--root", str(root), *out]), "val.json", "99")
    root2 = tiny_coco(tmp_path / "set2", n_train=1, n_val=1)
    _one_error(CliRunner().invoke(cli, ["detect", "--root", str(root2), "--ta-isp-modules", "glc,isp", *out]), "isp")
    assert not (tmp_path / "runs").exists()  # nothing written for bad input
    # names are checked before the data is read: no paste set is built for a bad detector name
    _one_error(CliRunner().invoke(cli, ["detect", "--root", str(tmp_path / "new"), "--detector", "yolo",
                                        "--output-dir", str(tmp_path / "runs")]), "unknown detector 'yolo'")
    assert not (tmp_path / "new").exists()
