"""The noise sweep (Fig. 3 analogue) writes its rows and a PNG plot."""

import json

import numpy as np
from PIL import Image

from rawvision.bench import noise_sweep


def test_noise_sweep_rows_and_plot(tmp_path, lite0):
    d = tmp_path / "photos"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (70, 70, 3), dtype=np.uint8)).save(d / f"p{i}.png")
    png, summary = tmp_path / "p.png", tmp_path / "s.json"
    rc = noise_sweep.main(["--config", "none", "--set", f"data={d}", "labels=none", "patch_size=64",
                           "test_fraction=0.5", "batch_size=2", "max_steps=1", "accelerator=cpu",
                           "--sigmas", "0", "0.2", "--methods", "pretrained", "hard_labels",
                           "--out", str(tmp_path / "out"), "--summary", str(summary), "--plot", str(png)])
    assert rc == 0
    rows = json.loads(summary.read_text())["rows"]
    assert [(r["sigma"], r["method"]) for r in rows] == [(0.0, "pretrained"), (0.0, "hard_labels"),
                                                        (0.2, "pretrained"), (0.2, "hard_labels")]
    assert all(r["n_patches"] == 2 for r in rows)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
