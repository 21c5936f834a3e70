"""Segmentation sources: the folder layout, label checks (one clear line each), even-offset crops, CamVid."""

import numpy as np
import pytest
import torch
from PIL import Image

from rawvision.data import DataError
from rawvision.data.segmentation import (CAMVID_COLORS, colorize, find_frames, load_class_list, load_frames,
                                         load_label_map, random_crop_flip)


def test_crops_identical_on_frame_and_labels_at_even_offsets():
    h, w = 20, 30
    idx = torch.arange(h * w).view(h, w)
    img = torch.stack([idx % 256, idx // 256, torch.zeros_like(idx)]).to(torch.uint8)  # encodes (y, x)
    lab = (idx % 7).to(torch.uint8)
    seen_flip = set()
    for s in range(40):
        g = torch.Generator().manual_seed(s)
        ci, cl = random_crop_flip(img, lab, (8, 12), g, flip=True)
        pos = ci[0].long() + 256 * ci[1].long()
        assert torch.equal((pos % 7).to(torch.uint8), cl)  # the label crop is the frame crop
        ys, xs = pos // w, pos % w
        assert int(ys.min()) % 2 == 0 and int(xs.min()) % 2 == 0  # even offsets: CFA phase kept
        seen_flip.add(bool(xs[0, 0] > xs[0, -1]))
    assert seen_flip == {True, False}


def test_rescaled_crop_keeps_frame_and_labels_aligned():
    lab = torch.zeros(40, 40, dtype=torch.uint8)
    lab[:, 20:] = 2
    lab[10:20, :] = 1
    img = (lab * 100).expand(3, 40, 40).contiguous()  # the frame encodes its labels: 0, 100, 200
    for seed in range(10):
        ci, cl = random_crop_flip(img, lab, (16, 16), torch.Generator().manual_seed(seed), scale_range=(0.5, 2.0))
        assert ci.shape == (3, 16, 16) and set(cl.unique().tolist()) <= {0, 1, 2, 255}
        # away from region borders (where the bilinear/antialiased frame mixes values, and nearest labels may sit
        # half a source pixel off) the frame's value is its label's
        c = cl.float()[None, None]
        pad = torch.nn.functional.pad(c, (1, 1, 1, 1), mode="replicate")
        flat = (torch.nn.functional.max_pool2d(pad, 3, 1) == -torch.nn.functional.max_pool2d(-pad, 3, 1))[0, 0]
        inside = flat & (cl != 255)
        agree = (ci[0].long() - 100 * cl.long()).abs() <= 1
        assert inside.sum() > 0 and bool(agree[inside].all())


def test_odd_crop_size_is_refused():
    with pytest.raises(ValueError, match="must be even"):
        random_crop_flip(torch.zeros(3, 8, 8, dtype=torch.uint8), torch.zeros(8, 8, dtype=torch.uint8), (3, 4),
                         torch.Generator())


def _write_label(path, arr, mode="L"):
    Image.fromarray(arr, mode=mode).save(path)


def test_bad_label_maps(tmp_path, tiny_segmentation):
    root = tiny_segmentation(tmp_path / "seg")
    classes = load_class_list(str(root / "classes.txt"))
    assert classes.num_classes == 3 and classes.void_index == 3
    lab = root / "train" / "labels" / "f0.png"
    # another size than the frame
    _write_label(lab, np.zeros((32, 96), dtype=np.uint8))
    with pytest.raises(DataError, match=r"f0.png is 96x32 \(WxH\), its frame 96x64"):
        load_frames(find_frames(root, "train"), classes)
    # values outside 0..K-1 other than the void index
    _write_label(lab, np.full((64, 96), 5, dtype=np.uint8))
    with pytest.raises(DataError, match=r"values \[5\] outside 0..2 and the void index 3"):
        load_label_map(lab, classes, (64, 96))
    # an RGB (colour-coded) label PNG
    Image.fromarray(np.zeros((64, 96, 3), dtype=np.uint8)).save(lab)
    with pytest.raises(DataError, match="3 channels .*expected a single-channel PNG"):
        load_label_map(lab, classes)
    # a frame without its label file
    lab.unlink()
    with pytest.raises(DataError, match="f0.png has no label file"):
        find_frames(root, "train")


def test_missing_split_folder(tmp_path):
    with pytest.raises(DataError, match="train/images and train/labels"):
        find_frames(tmp_path, "train")


def test_class_list_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_class_list(str(tmp_path / "nope.txt"))
    with pytest.raises(DataError, match="void index 1 is a class index"):
        load_class_list("camvid", void_index=1)


def test_colorize_uses_camvid_colours():
    cl = load_class_list("camvid")
    rgb = colorize(torch.tensor([[3, 11]]), cl)
    assert rgb[0, 0].tolist() == list(CAMVID_COLORS[3]) and rgb[0, 1].tolist() == [0, 0, 0]


def test_camvid_layout(shared_camvid):
    classes = load_class_list("camvid")
    train, val = find_frames(shared_camvid, "train"), find_frames(shared_camvid, "val")
    assert (len(train), len(val)) == (367, 101)
    images, labels = load_frames(val[:3], classes)
    assert images[0].shape == (3, 360, 480) and labels[0].shape == (360, 480)
    assert int(max(int(lab.max()) for lab in labels)) <= 11
