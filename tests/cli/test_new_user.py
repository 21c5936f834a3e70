"""What a new user hit on a fresh clone (issue 16, item 10): each gives one clear line, never a stale or mixed run."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from click.testing import CliRunner

from rawvision.cli.main import cli


@pytest.fixture()
def photo_dir(tmp_path, random_photos):
    return random_photos(tmp_path / "photos", 3, 260, 260, high=255)


def _distill(tmp_path, photo_dir, *extra):
    args = ["distill", "--data", str(photo_dir), "--labels", "none", "--test-fraction", "0.34", "--method",
            "pretrained", "--output-dir", str(tmp_path / "runs"), "--run-name", "x", "--no-progress",
            "--accelerator", "cpu", *extra]
    return CliRunner().invoke(cli, args)


def _one_line(res, code, *needles):
    err = res.stderr.strip().splitlines()
    assert res.exit_code == code, res.output
    assert len(err) == 1, err
    assert "Traceback" not in res.output
    for n in needles:
        assert n in err[0], err
    return err[0]


def test_rerun_into_an_existing_run_directory_is_refused_or_replaced_whole(tmp_path, photo_dir):
    assert _distill(tmp_path, photo_dir).exit_code == 0
    run_dir = tmp_path / "runs" / "x"
    first = (run_dir / "metrics.json").read_text()
    _one_line(_distill(tmp_path, photo_dir), 2, "run directory", "exists", "--overwrite")
    assert (run_dir / "metrics.json").read_text() == first  # untouched
    (run_dir / "stale.txt").write_text("from an older run")
    assert _distill(tmp_path, photo_dir, "--overwrite").exit_code == 0
    assert not (run_dir / "stale.txt").exists()  # replaced whole, never mixed


def test_gpu_request_without_a_gpu_is_one_line(tmp_path, photo_dir):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    _one_line(_distill(tmp_path, photo_dir, "--accelerator", "gpu"), 2, "accelerator 'gpu'", "no CUDA GPU")
    assert not (tmp_path / "runs").exists()


def test_a_file_that_is_not_a_checkpoint(tmp_path):
    f = tmp_path / "notes.ckpt"
    f.write_bytes(b"\x80\x02}q\x00.garbage")
    line = _one_line(CliRunner().invoke(cli, ["evaluate", str(f)]), 2, "notes.ckpt", "not a rawvision checkpoint")
    assert "weights_only" not in line


def test_names_are_checked_before_the_data_is_read(tmp_path, photo_dir):
    (photo_dir / "broken.jpg").write_bytes(b"not a jpeg")  # reading the data would fail on this first
    _one_line(_distill(tmp_path, photo_dir, "--teacher", "nonexistent"), 2, "unknown classifier 'nonexistent'")
    _one_line(_distill(tmp_path, photo_dir, "--method", "bogus"), 2, "unknown method 'bogus'")
    assert not (tmp_path / "runs").exists()


def test_an_option_of_another_task_is_refused(tmp_path, photo_dir):
    _one_line(_distill(tmp_path, photo_dir, "--fpn-channels", "16"), 2, "--fpn-channels", "task classification")


def test_evaluate_prints_the_settings_it_used(tmp_path, shared_photos):
    runs = tmp_path / "runs"
    res = CliRunner().invoke(cli, ["distill", "--data", str(shared_photos), "--max-photos", "8", "--method", "kd",
                                   "--max-steps", "1", "--batch-size", "2", "--sigma", "0.05", "--patch-size", "128",
                                   "--output-dir", str(runs), "--run-name", "kd", "--no-progress"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["evaluate", str(runs / "kd" / "checkpoints" / "last.ckpt")])
    assert res.exit_code == 0, res.output
    assert "sigma=0.05" in res.stderr and "patch_size=128" in res.stderr and "(test split)" in res.stderr
    res = CliRunner().invoke(cli, ["evaluate", str(runs / "kd" / "checkpoints" / "last.ckpt"), "--data",
                                   str(shared_photos), "--max-photos", "8"])
    assert res.exit_code == 0, res.output
    assert "of 8 photos/frames (all split)" in res.stderr


def test_ctrl_c_exits_130_with_one_line_and_marks_the_run_incomplete(tmp_path, shared_photos):
    runs = tmp_path / "runs"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen(
        [sys.executable, "-m", "rawvision.cli.main", "distill", "--data", str(shared_photos), "--max-photos", "8",
         "--patch-size", "128", "--batch-size", "2", "--max-steps", "1000", "--output-dir", str(runs),
         "--run-name", "r", "--no-progress", "--accelerator", "cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 120
    while not (runs / "r" / "logs").exists() and time.time() < deadline and p.poll() is None:
        time.sleep(0.2)  # the Trainer has started
    time.sleep(2)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, err[-2000:]
    assert err.strip().splitlines()[-1].startswith("interrupted"), err[-2000:]
    assert (runs / "r" / "INCOMPLETE").exists() and not (runs / "r" / "metrics.json").exists()
