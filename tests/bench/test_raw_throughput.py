"""The RAW throughput benchmark's reporting (not the benchmark itself): peak lookup, the table, --out."""

from rawvision.bench.raw_throughput import STAGES, format_report, main, peak_bandwidth


def _meta(cuda: bool) -> dict:
    return {"date": "2026-01-02 03:04 UTC", "device": "NVIDIA H100 80GB HBM3" if cuda else "CPU (x86_64, 2 logical "
            "cores)", "torch": "2.13.0", "numpy": "2.4.6", "colour_demosaicing": "0.2.7", "threads": 2,
            "size": (2048, 1024), "repeats": 5, "load": (0.5, 0.25, 0.125), "load_after": None,
            "peak_bandwidth": 3.35e12 if cuda else None, "copy_bandwidth": 2.8e12 if cuda else None, "cuda": cuda}


def test_peak_bandwidth_table():
    assert peak_bandwidth("NVIDIA H100 80GB HBM3") == 3.35e12
    assert peak_bandwidth("NVIDIA H100 PCIe") == 2.0e12
    assert peak_bandwidth("NVIDIA H200") == 4.8e12
    assert peak_bandwidth("NVIDIA L4") == 300e9 and peak_bandwidth("NVIDIA L40S") == 864e9
    assert peak_bandwidth("Some Future GPU") is None


def test_report_cpu_and_cuda():
    assert list(STAGES) == ["mosaic", "mosaic + gaussian noise", "demosaic bilinear", "demosaic malvar"]
    rows = [{"stage": "demosaic malvar", "ours_s": 0.02, "ours_mps": 104.8576, "ref_s": 0.5, "ref_mps": 4.194304,
             "ratio": 25.0, "bandwidth": 1.5e12, "peak_fraction": 1.5e12 / 3.35e12, "copy_fraction": 1.5e12 / 2.8e12},
            {"stage": "new stage", "ours_s": 0.01, "ours_mps": 209.7, "ref_s": None, "ref_mps": None, "ratio": None,
             "bandwidth": 1e12, "peak_fraction": None, "copy_fraction": 1e12 / 2.8e12}]
    cpu = format_report(_meta(False), rows)
    assert "| demosaic malvar | 104.9 | 4.2 | 25.0x |" in cpu and "| new stage | 209.7 | n/a | n/a |" in cpu
    assert "2048 x 1024 (2.10 MP)" in cpu and "torch threads: 2" in cpu and "0.50 / 0.25 / 0.12" in cpu
    assert "GB/s" not in cpu
    gpu = format_report(_meta(True), rows)
    assert "| demosaic malvar | 104.9 | 4.2 | 25.0x | 1500 | 45% | 54% |" in gpu
    assert "| new stage | 209.7 | n/a | n/a | 1000 | n/a | 36% |" in gpu
    assert "datasheet peak 3350 GB/s, measured device-to-device copy 2800 GB/s" in gpu


def test_main_writes_the_table(tmp_path, capsys):
    out = tmp_path / "sub" / "raw.md"
    assert main(["--size", "16", "24", "--repeats", "1", "--stages", "demosaic malvar", "--out", str(out)]) == 0
    text = out.read_text()
    assert text == capsys.readouterr().out
    assert "| demosaic malvar |" in text and "16 x 24 (0.00 MP)" in text and "mosaic |" not in text
    assert [p.name for p in out.parent.iterdir()] == ["raw.md"]  # no temporary file left behind
