"""TA-ISP compute report: MAC counting (FlopCounterMode against the layer formulas), the report, --out."""

import pytest

from rawvision.bench.ta_isp_compute import conv_linear_macs_by_hand, count_compute, main
from rawvision.models.ta_isp import TAISP


def test_macs_flop_counter_agrees_with_the_formulas():
    model = TAISP()
    c = count_compute(model, 64, 48)
    assert model.training  # the mode is restored
    hw = 64 * 48
    expected = 16 * 3 * 9 * hw + (2 * 9 + 2 * 25) * hw + 3 * 2 + (6 * 64 + 64 * 3) + (16 * 64 + 64 * 16)
    assert sum(conv_linear_macs_by_hand(model, 64, 48).values()) == expected == c["macs"] == c["flops"] // 2
    assert c["flops_by_module"]["TAISP.rgfm.mask_head"] == 2 * 16 * 3 * 9 * hw
    # elementwise work is counted separately: exp once per region and element for the power, once per region and
    # pixel for the region softmax; the HSA gate's 2-way softmax
    assert c["elementwise"]["exp"] == 16 * 3 * hw + 16 * hw and c["elementwise"]["_softmax"] == 2
    packed = TAISP(in_channels=4, modules=("glc",))
    assert count_compute(packed, 8, 8)["macs"] == sum(conv_linear_macs_by_hand(packed, 8, 8).values()) == (
        8 * 64 + 64 * 4 + 4 * 3 * 64)


def test_main_writes_the_report(tmp_path, capsys):
    out = tmp_path / "sub" / "ta_isp.md"
    argv = ["--size", "8", "12", "--flops-size", "640", "640", "--repeats", "1", "--warmup", "0", "--out", str(out)]
    assert main(argv) == 0
    text = out.read_text()
    assert text == capsys.readouterr().out
    assert "| **total** | MultipleMaskISP_Conv | **3,297** | **3,651** |" in text
    assert "| rgfm.mask_head (3x3, 3->16) | 176,947,200 | 353,894,400 |" in text
    assert "0.205 G MACs (agree)" in text and "matches the MACs of the convolutions" in text
    assert "### Latency at 12x8" in text and text.count("x |") >= 4 and "| 1.00x |" in text
    assert "torch threads:" in text and "load average" in text
    assert [p.name for p in out.parent.iterdir()] == ["ta_isp.md"]  # no temporary file left behind


def test_main_rejects_odd_sizes():
    with pytest.raises(SystemExit):
        main(["--size", "9", "12", "--repeats", "1"])
