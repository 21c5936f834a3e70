import pytest
import torch

from rawvision.data.coco import hflip_detection
from rawvision.data.photos import DataError
from rawvision.tasks.detection import RawDetectionDataModule, detection_collate


def test_hflip_boxes_and_image():
    img = torch.arange(2 * 3 * 5).view(2, 3, 5)
    t = {"boxes": torch.tensor([[0.0, 1.0, 2.0, 3.0], [1.0, 0.0, 5.0, 2.0]]), "labels": torch.tensor([1, 2])}
    im2, t2 = hflip_detection(img, t)
    assert torch.equal(im2, img.flip(-1))
    assert torch.equal(t2["boxes"], torch.tensor([[3.0, 1.0, 5.0, 3.0], [0.0, 0.0, 4.0, 2.0]]))
    assert torch.equal(t2["labels"], t["labels"])
    im3, t3 = hflip_detection(im2, t2)  # twice is the identity
    assert torch.equal(im3, img) and torch.equal(t3["boxes"], t["boxes"])
    _, te = hflip_detection(img, {"boxes": torch.zeros(0, 4)})
    assert te["boxes"].shape == (0, 4)


def test_eval_raw_is_per_image_and_independent_of_batching(tmp_path, tiny_coco):
    root = tiny_coco(tmp_path / "set")
    out = {}
    for bs in (1, 3):
        dm = RawDetectionDataModule(root, eval_batch_size=bs, low_light=False, seed=5)
        dm.setup()
        assert dm.num_classes == 2
        assert "train 4 images / 6 boxes, val 3 images / 4 boxes" in dm.summary()
        xs, ts = [], []
        for batch in dm.val_dataloader():
            x, t = dm.on_after_batch_transfer(batch, 0)
            xs += x
            ts += t
        out[bs] = (xs, ts)
    for a, b in zip(out[1][0], out[3][0]):
        assert torch.equal(a, b)
    x0 = out[1][0][0]
    assert x0.shape == (3, 64, 64) and x0.dtype == torch.float32
    assert 0.0 <= float(x0.min()) and float(x0.max()) <= 1.0
    assert [t["labels"].tolist() for t in out[1][1]] == [[1], [1, 2], [1]]  # category ids 3, 7 -> labels 1, 2
    # a different seed draws different RAW
    dm = RawDetectionDataModule(root, eval_batch_size=1, seed=6)
    dm.setup()
    x, _ = dm.on_after_batch_transfer(next(iter(dm.val_dataloader())), 0)
    assert not torch.equal(x[0], x0)


def test_low_light_is_darker_and_rgb_input_is_the_photo(tmp_path, tiny_coco):
    root = tiny_coco(tmp_path / "set")
    means = {}
    for low in (False, True):
        dm = RawDetectionDataModule(root, low_light=low, eval_batch_size=3)
        dm.setup()
        x, _ = dm.on_after_batch_transfer(next(iter(dm.val_dataloader())), 0)
        means[low] = float(torch.stack(x).mean())
    assert means[True] < means[False] / 3  # 1/8 exposure, not brightened
    dm = RawDetectionDataModule(root, input="rgb", eval_batch_size=3)
    dm.setup()
    batch = next(iter(dm.val_dataloader()))
    x, _ = dm.on_after_batch_transfer(batch, 0)
    assert torch.equal(x[1], batch[0][1].float() / 255.0)


class _Trainer:
    training, world_size, global_rank = True, 1, 0

    def __init__(self, step=0):
        self.global_step = step


def test_training_raw_is_seeded_by_step_and_flips_by_epoch_and_index(tmp_path, tiny_coco):
    root = tiny_coco(tmp_path / "set", n_train=4)
    dm = RawDetectionDataModule(root, batch_size=2, flip=True, seed=0)
    dm.setup()
    loader = dm.train_dataloader()
    batch = next(iter(loader))
    dm.trainer = _Trainer(step=0)
    a, _ = dm.on_after_batch_transfer(([im.clone() for im in batch[0]], batch[1]), 0)
    b, _ = dm.on_after_batch_transfer(([im.clone() for im in batch[0]], batch[1]), 0)
    dm.trainer = _Trainer(step=1)
    c, _ = dm.on_after_batch_transfer(([im.clone() for im in batch[0]], batch[1]), 0)
    assert len(a) == 2 and torch.equal(a[0], b[0]) and not torch.equal(a[0], c[0])  # (seed, step, rank)
    flipped, draws = 0, []
    for epoch in range(8):
        loader.sampler.set_epoch(epoch)
        for im, t in zip(*next(iter(loader))):
            box = t["boxes"][0]
            assert float(box[2] - box[0]) == 20.0  # the width is kept
            flipped += float(box[0]) == 64 - 24
        draws.append(next(iter(loader))[1][0]["boxes"].tolist())
    assert flipped > 0
    loader.sampler.set_epoch(3)
    assert next(iter(loader))[1][0]["boxes"].tolist() == draws[3]  # the same (seed, epoch, index), the same flip


def test_missing_set_without_photos_and_bad_input(tmp_path):
    with pytest.raises(DataError, match="no train.json"):
        RawDetectionDataModule(tmp_path / "nothing", photos=None).setup()
    with pytest.raises(DataError, match="unknown detection input"):
        RawDetectionDataModule(tmp_path, input="jpeg")
    with pytest.raises(ValueError, match="XYZW"):
        RawDetectionDataModule(tmp_path, pattern="XYZW")


def test_collate_keeps_lists():
    b = [(torch.zeros(3, 4, 4, dtype=torch.uint8), {"a": 1}), (torch.zeros(3, 6, 4, dtype=torch.uint8), {"a": 2})]
    ims, ts = detection_collate(b)
    assert [tuple(i.shape) for i in ims] == [(3, 4, 4), (3, 6, 4)] and ts == [{"a": 1}, {"a": 2}]
