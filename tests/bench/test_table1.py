"""The Table I benchmark's derived figures: share of the drop recovered, (d) - (b)."""

def test_gaps_recovered_share_and_d_minus_b_by_hand():
    from rawvision.bench.table1 import gaps

    runs = []
    for seed, (clean, a, b, d) in enumerate([(80.0, 40.0, 60.0, 70.0), (70.0, 50.0, 55.0, 60.0)]):
        for row, v in (("rgb_teacher", clean), ("pretrained", a), ("hard_labels", b), ("isp_distillation", d)):
            runs.append({"row": row, "seed": seed, "gt_top1": v})
    runs.append({"row": "pretrained", "seed": 2, "gt_top1": 1.0})  # a seed without the other rows: left out
    g = gaps(runs)
    assert g["seeds"] == [0, 1] and g["recovered"] == [0.75, 0.5] and g["d_minus_b"] == [10.0, 5.0]
    assert g["recovered_mean"] == 0.625 and g["d_minus_b_mean"] == 7.5
    assert abs(g["d_minus_b_std"] - 3.5355) < 1e-3  # sample std of (10, 5)


def test_summarize_a_bad_file_is_one_error_line(tmp_path, capsys):
    from rawvision.bench.table1 import main

    bad = tmp_path / "r.json"
    bad.write_text('{"seeds": [0]}')
    assert main(["--summarize", str(bad)]) == 2
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [f"error: {bad}: not a table1 results.json ('runs')"]
