"""The TA-ISP front end through the main job's training code: what trains, what stays frozen, checkpoints."""

import lightning as L
import pytest
import torch

from rawvision.tasks.classification import ISPDistillation


def _batch(n=4, size=64):
    g = torch.Generator().manual_seed(0)
    rgb = torch.rand(n, 3, size, size, generator=g)
    from rawvision.raw import mosaic

    return {"rgb": rgb, "raw": mosaic(rgb, "RGGB"), "label": torch.full((n,), -1)}


@pytest.mark.parametrize("freeze", [True, False])
def test_ta_isp_front_end_trains_with_the_distillation_loss(freeze):
    L.seed_everything(0, verbose=False)
    m = ISPDistillation(method="isp_distillation", front_end="ta-isp", freeze_model=freeze, front_end_lr=1e-2,
                        lr=1e-4, lr_schedule="constant", channels_last=False)
    isp = m.student.preprocess[1]
    assert isp.__class__.__name__ == "TAISP"
    trainable = sum(p.numel() for p in m.student.parameters() if p.requires_grad)
    assert (trainable == 3297) == freeze
    isp_before = [p.detach().clone() for p in isp.parameters()]
    net_before = [p.detach().clone() for p in m.student.net.parameters()]
    opt = m.configure_optimizers()
    assert any(g["lr"] == 1e-2 for g in opt.param_groups)
    m.train()
    for _ in range(2):
        loss = m.compute_loss(_batch())["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert torch.isfinite(loss)
    assert any(not torch.equal(a, b) for a, b in zip(isp_before, isp.parameters()))
    net_changed = any(not torch.equal(a, b) for a, b in zip(net_before, m.student.net.parameters()))
    assert net_changed != freeze
    if freeze:  # frozen model keeps its BatchNorm statistics too
        assert not m.student.net.training


def test_front_end_ablation_switches_and_eval_determinism():
    full = ISPDistillation(method="hard_labels", front_end="ta-isp", channels_last=False)
    glc = ISPDistillation(method="hard_labels", front_end="ta-isp", ta_isp_modules="glc", channels_last=False)
    n = lambda m: sum(p.numel() for p in m.student.preprocess.parameters())  # noqa: E731
    assert n(full) == 3297 and n(glc) == 643
    full.eval()
    x = _batch()["raw"]
    assert torch.equal(full(x), full(x))


def test_bad_front_end_options():
    with pytest.raises(ValueError, match="unknown front end 'deepisp'"):
        ISPDistillation(front_end="deepisp")
    with pytest.raises(ValueError, match="freeze_model needs a trainable front end"):
        ISPDistillation(front_end="none", freeze_model=True)
