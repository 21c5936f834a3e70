"""Lightning for real: a 2-process DDP run (gloo on CPU) and a run killed with SIGKILL mid-epoch, then resumed."""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

SCRIPT = Path(__file__).with_name("_script.py")


def _keys(shared_photos, out, **kw):
    keys = dict(data=str(shared_photos), max_photos=10, patch_size=128, test_fraction=0.3, batch_size=2,
                eval_batch_size=3, epochs=50, lr=1e-4, lr_schedule="constant", trainable_fraction=0.5,
                train_draw="random_crops", progress=False, output_dir=str(out), accelerator="cpu", devices="1",
                method="isp_distillation")
    keys.update(kw)
    return keys


def _run(args, ok=True, timeout=600):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("RAWVISION_RUN_DIR", None)
    p = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, env=env)
    if ok:
        assert p.returncode == 0, p.stderr[-3000:]
    return p


def _state(run_dir):
    ck = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    return ck["state_dict"], ck["global_step"]


def test_ddp_two_processes(shared_photos, tmp_path):
    """Two ranks draw different batches, write one run directory, and score the test set exactly once."""
    rec = tmp_path / "rec"
    rec.mkdir()
    keys = _keys(shared_photos, tmp_path / "runs", max_steps=3, strategy="ddp", devices="2", eval_batch_size=4,
                 patch_size=160)
    _run([json.dumps(keys), "--record", str(rec)])
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1, runs  # one run directory, named by rank 0 before the launch
    run_dir = runs[0]
    assert not (run_dir / "INCOMPLETE").exists()
    r0, r1 = (json.loads((rec / f"rank{r}.json").read_text()) for r in (0, 1))
    assert len(r0) == len(r1) == 3
    assert all(a[1] != b[1] and a[2] != b[2] for a, b in zip(r0, r1)), (r0, r1)  # crops and noise differ per rank
    assert {row[3] for row in r0 + r1} == {str(run_dir.resolve())}  # both ranks resolved the one directory
    ddp = json.loads((run_dir / "metrics.json").read_text())
    assert ddp["n_patches"] == ddp["test_patches"] == 15  # 8 + 7: a padding sampler would count one twice

    # the same checkpoint scored by one process gives the same metrics
    from rawvision.runner import evaluate_checkpoint

    one, _ = evaluate_checkpoint(run_dir / "checkpoints" / "last.ckpt", accelerator="cpu")
    for k in ("agree_top1", "agree_top5", "gt_top1", "gt_top5", "n_patches", "n_confident", "conf_agree_top1"):
        assert one[k] == ddp[k], (k, one[k], ddp[k])


def test_sigkill_then_resume_is_bit_identical(shared_photos, tmp_path):
    """Killed after the step-5 checkpoint (mid-epoch), resumed from last.ckpt: same weights and metrics."""
    base = dict(max_photos=6, max_steps=8, checkpoint_every_n_steps=5)
    _run([json.dumps(_keys(shared_photos, tmp_path, run_name="straight", **base))])
    p = _run([json.dumps(_keys(shared_photos, tmp_path, run_name="killed", **base)), "--kill-at", "6"], ok=False)
    assert p.returncode == -9, p.stderr[-2000:]
    killed = tmp_path / "killed"
    assert (killed / "INCOMPLETE").exists() and not (killed / "metrics.json").exists()
    assert _state(killed)[1] == 5
    ck = torch.load(killed / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    loader = ck["loops"]["fit_loop"]["state_dict"]["combined_loader"][0]
    straight = json.loads((tmp_path / "straight" / "metrics.json").read_text())
    per_epoch = straight["train_patches"] // 2  # batch 2, drop_last
    assert 0 < loader["consumed"] < per_epoch and loader["epoch"] * per_epoch + loader["consumed"] == 5  # mid-epoch
    _run(["{}", "--resume", str(killed)])
    (a, sa), (b, sb) = _state(tmp_path / "straight"), _state(killed)
    assert sa == sb == 8
    for k in a:
        assert torch.equal(a[k], b[k]), k
    ma, mb = (json.loads((tmp_path / n / "metrics.json").read_text()) for n in ("straight", "killed"))
    for k in ("agree_top1", "agree_top5", "gt_top1", "n_patches"):
        assert ma[k] == mb[k], k
    assert not (killed / "INCOMPLETE").exists()
