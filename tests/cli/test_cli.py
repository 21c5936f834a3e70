"""Bad input through the CLI: one clear ``error:`` line, exit code 2, no traceback, nothing written."""

import pytest
from click.testing import CliRunner

from rawvision.cli.main import cli


def _run(args, tmp_path):
    res = CliRunner().invoke(cli, args + ["--output-dir", str(tmp_path / "runs")] if args[0] == "distill" else args)
    err = res.stderr.strip().splitlines()
    return res, err


@pytest.fixture()
def photo_dir(tmp_path):
    import numpy as np
    from PIL import Image

    d = tmp_path / "photos"
    d.mkdir()
    for i in range(3):
        Image.fromarray(np.full((260, 260, 3), 40 * i, np.uint8)).save(d / f"p{i}.png")
    return d


def _assert_one_error(res, err, tmp_path, *needles):
    assert res.exit_code == 2, res.output
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert "Traceback" not in res.output
    for n in needles:
        assert n in err[0], err
    assert not (tmp_path / "runs").exists()  # nothing written


def test_unreadable_image(tmp_path, photo_dir):
    (photo_dir / "broken.jpg").write_bytes(b"not a jpeg")
    res, err = _run(["distill", "--data", str(photo_dir), "--method", "pretrained"], tmp_path)
    _assert_one_error(res, err, tmp_path, "broken.jpg", "cannot decode")


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    res, err = _run(["distill", "--data", str(tmp_path / "empty")], tmp_path)
    _assert_one_error(res, err, tmp_path, "holds no image")


def test_unknown_teacher(tmp_path, photo_dir):
    res, err = _run(["distill", "--data", str(photo_dir), "--teacher", "resnet999", "--test-fraction", "0.34"], tmp_path)
    _assert_one_error(res, err, tmp_path, "unknown classifier 'resnet999'")


def test_missing_weights_file(tmp_path, photo_dir):
    res, err = _run(
        ["distill", "--data", str(photo_dir), "--teacher-weights", str(tmp_path / "w.pth"), "--test-fraction", "0.34"],
        tmp_path,
    )
    _assert_one_error(res, err, tmp_path, "w.pth not found")


def test_negative_sigma(tmp_path, photo_dir):
    res, err = _run(["distill", "--data", str(photo_dir), "--sigma", "-0.5"], tmp_path)
    _assert_one_error(res, err, tmp_path, "sigma", "-0.5")
    res, err = _run(["demo", "--data", str(photo_dir), "--sigma", "-0.5"], tmp_path)
    _assert_one_error(res, err, tmp_path, "sigma")


def test_unknown_cfa_pattern(tmp_path, photo_dir):
    res, err = _run(["distill", "--data", str(photo_dir), "--pattern", "RGBW"], tmp_path)
    _assert_one_error(res, err, tmp_path, "unknown CFA pattern 'RGBW'")
    res, err = _run(["demo", "--data", str(photo_dir), "--pattern", "XTRANS"], tmp_path)
    _assert_one_error(res, err, tmp_path, "unknown CFA pattern")


def test_bad_config_file(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("sigmaa: 0.1\n")
    res, err = _run(["distill", "--config", str(cfg)], tmp_path)
    _assert_one_error(res, err, tmp_path, "unknown configuration key(s) sigmaa")


def test_missing_checkpoint(tmp_path):
    res, err = _run(["evaluate", str(tmp_path / "none.ckpt")], tmp_path)
    _assert_one_error(res, err, tmp_path, "none.ckpt not found")
