"""The RAW-core quality benchmark on two photo patches (round trip and demosaicing parts)."""

import json

from rawvision.bench.raw_quality import main, psnr


def test_psnr_leaves_the_border_out():
    import torch

    x = torch.zeros(1, 3, 32, 32)
    y = x.clone()
    y[..., :8, :] = 1  # differs only inside the 8-pixel border
    assert float(psnr(x, y)[0]) > 150 and float(psnr(x, y, border=0)[0]) < 10


def test_main_writes_both_reports(tmp_path, shared_photos, capsys):
    out = tmp_path / "q"
    assert main(["--photos", str(shared_photos), "--n-photos", "2", "--parts", "roundtrip", "demosaic",
                 "--out", str(out)]) == 0
    rep = json.loads((out / "results.json").read_text())
    assert rep["photos"]["n"] == 2 and set(rep["roundtrip"]) >= {"bilinear", "none (3-channel camera RGB)"}
    assert all(v["n"] == 2 and v["mean"] > 20 for v in rep["demosaic"].values())
    md = (out / "results.md").read_text()
    assert "Unprocess -> process round trip" in md and "Demosaicing of the mosaiced sRGB photos" in md
    assert sorted(p.name for p in out.iterdir()) == ["results.json", "results.md"]
