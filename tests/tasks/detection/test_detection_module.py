import lightning as L
import pytest
import torch

from rawvision.tasks.detection import RawDetectionDataModule
from rawvision.models.ta_isp import parse_ta_isp_modules
from rawvision.tasks.detection import RawDetection
from rawvision.models.ta_isp import TAISP

FAST = dict(pretrained_backbone=False, min_size=64, max_size=64, fpn_channels=32, warmup_steps=1)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_parse_modules():
    assert parse_ta_isp_modules("glc+hsa") == ("glc", "hsa")
    assert parse_ta_isp_modules("glc,hsa,rgfm") == ("glc", "hsa", "rgfm")
    assert parse_ta_isp_modules("none") == ()
    assert parse_ta_isp_modules(["hsa"]) == ("hsa",)


def test_bad_names():
    with pytest.raises(ValueError, match="unknown detector"):
        RawDetection(2, detector="yolo", **FAST)
    with pytest.raises(ValueError, match="unknown front end"):
        RawDetection(2, front_end="unet", **FAST)


@pytest.mark.parametrize("modules", [("glc",), ("glc", "hsa"), ("glc", "hsa", "rgfm")])
def test_front_end_is_the_ablated_ta_isp(modules):
    m = RawDetection(2, front_end="ta-isp", ta_isp_modules="+".join(modules), **FAST)
    want = sum(p.numel() for p in TAISP(modules=modules).parameters())
    assert sum(p.numel() for p in m.front_end.parameters()) == want
    assert RawDetection(2, front_end="none", **FAST).front_end is None


def test_fit_trains_front_end_and_reports_coco_ap(tmp_path, tiny_coco):
    root = tiny_coco(tmp_path / "set", n_train=4, n_val=2)
    L.seed_everything(0, verbose=False)
    dm = RawDetectionDataModule(root, batch_size=2, eval_batch_size=2, low_light=True)
    model = RawDetection(2, detector="retinanet", front_end="ta-isp", lr=1e-3, front_end_lr=1e-2, **FAST)
    before = {k: v.detach().clone() for k, v in model.front_end.state_dict().items()}
    trainer = L.Trainer(max_steps=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                        num_sanity_val_steps=0)
    trainer.fit(model, datamodule=dm)
    opt = trainer.optimizers[0]
    assert [g["initial_lr"] for g in opt.param_groups] == pytest.approx([1e-3, 1e-2])
    fe_ids = {id(p) for p in model.front_end.parameters()}
    assert {id(p) for p in opt.param_groups[1]["params"]} == fe_ids  # TA-ISP in its own group
    after = model.front_end.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed, "the task loss must reach TA-ISP's parameters"
    trainer.test(model, datamodule=dm, verbose=False)
    res = model.last_eval
    assert set(res) >= {"AP", "AP50", "AP75", "AR100"}
    assert all(0.0 <= res[k] <= 1.0 for k in ("AP", "AP50", "AP75"))


def test_eval_is_deterministic():
    model = RawDetection(2, front_end="ta-isp", **FAST).eval()
    x = [torch.rand(3, 64, 64)]
    with torch.no_grad():
        a, b = model(x), model(x)
    assert torch.equal(a[0]["boxes"], b[0]["boxes"]) and torch.equal(a[0]["scores"], b[0]["scores"])
