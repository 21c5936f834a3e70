import copy
import json

import numpy as np
import pytest
import torch
from PIL import Image

from rawvision.data.coco import CocoDetection, hflip_detection, load_coco, write_coco, xywh_to_xyxy, xyxy_to_xywh
from rawvision.data.photos import DataError


def _valid():
    return {
        "info": {"description": "tiny"},
        "images": [
            {"id": 3, "file_name": "a.png", "width": 64, "height": 48},
            {"id": 7, "file_name": "sub/b.png", "width": 40, "height": 40},
        ],
        "annotations": [
            {"id": 17, "image_id": 3, "category_id": 5, "bbox": [10, 4, 20, 30], "iscrowd": 0},
            {"id": 18, "image_id": 3, "category_id": 9, "bbox": [0, 0, 64, 48], "area": 100.0},
            {"id": 19, "image_id": 3, "category_id": 2, "bbox": [30.5, 20.0, 10.0, 8.0], "iscrowd": 1},
            {"id": 20, "image_id": 7, "category_id": 2, "bbox": [1, 2, 3, 4]},
        ],
        "categories": [{"id": 9, "name": "nine"}, {"id": 2, "name": "two"}, {"id": 5, "name": "five"}],
    }


def _write_json(tmp_path, data, name="instances.json"):
    p = tmp_path / name
    p.write_text(json.dumps(data))
    return p


def _images(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(a).save(tmp_path / "a.png")
    (tmp_path / "sub").mkdir()
    b = rng.integers(0, 256, (40, 40), dtype=np.uint8)
    Image.fromarray(b, "L").save(tmp_path / "sub" / "b.png")
    return a, b


def test_valid_file_loads_with_contiguous_labels(tmp_path):
    coco = load_coco(_write_json(tmp_path, _valid()))
    assert coco.category_ids == [2, 5, 9]
    assert [coco.label_of(c) for c in (2, 5, 9)] == [1, 2, 3]
    assert [coco.category_of(label) for label in (1, 2, 3)] == [2, 5, 9]
    assert coco.label_names == ["two", "five", "nine"]
    assert coco.num_classes == 3
    assert coco.image_root == tmp_path
    assert len(coco.annotations) == 4
    assert coco.annotations[1].area == 100.0 and coco.annotations[0].area == 600.0
    assert [a.id for a in coco.annotations_of(3)] == [17, 18]
    assert [a.id for a in coco.annotations_of(3, crowd=True)] == [19]
    assert coco.counts() == {"two": 1, "five": 1, "nine": 1}
    assert coco.info == {"info": {"description": "tiny"}}
    with pytest.raises(KeyError):
        coco.category_of(0)


def test_dataset_items_and_crowd_kept_out_of_targets(tmp_path):
    a, b = _images(tmp_path)
    ds = CocoDetection(_write_json(tmp_path, _valid()))
    assert len(ds) == 2 and ds.num_classes == 3 and ds.category_ids == [2, 5, 9]
    image, t = ds[0]
    assert image.dtype == torch.uint8 and image.shape == (3, 48, 64)
    assert torch.equal(image, torch.from_numpy(a).permute(2, 0, 1))
    assert t["image_id"] == 3
    assert t["boxes"].dtype == torch.float32 and t["labels"].dtype == torch.int64
    assert torch.equal(t["boxes"], torch.tensor([[10.0, 4.0, 30.0, 34.0], [0.0, 0.0, 64.0, 48.0]]))
    assert t["labels"].tolist() == [2, 3]  # category 5 -> 2, category 9 -> 3
    # the crowd box is known but not a training target
    assert torch.equal(t["crowd_boxes"], torch.tensor([[30.5, 20.0, 40.5, 28.0]]))
    assert t["crowd_labels"].tolist() == [1]
    image, t = ds[1]  # greyscale file in a sub-folder -> RGB
    assert image.shape == (3, 40, 40) and torch.equal(image[0], image[2])
    assert t["crowd_boxes"].shape == (0, 4) and t["labels"].tolist() == [1]


def test_image_size_mismatch_on_disk(tmp_path):
    _images(tmp_path)
    d = _valid()
    d["images"][1]["width"] = 41
    ds = CocoDetection(_write_json(tmp_path, d))
    with pytest.raises(DataError, match=r"is 40x40 on disk, the JSON says 41x40"):
        ds[1]


def test_image_root_overrides_json_folder(tmp_path):
    (tmp_path / "imgs").mkdir()
    coco = load_coco(_write_json(tmp_path, _valid()), image_root=tmp_path / "imgs")
    assert coco.image_path(coco.images[1]) == tmp_path / "imgs" / "sub" / "b.png"


def _err(tmp_path, mutate):
    d = copy.deepcopy(_valid())
    mutate(d)
    with pytest.raises(DataError) as e:
        load_coco(_write_json(tmp_path, d))
    msg = str(e.value)
    assert "\n" not in msg and "instances.json" in msg
    return msg


def test_box_outside_image(tmp_path):
    def m(d):
        d["annotations"][0]["bbox"] = [50, 4, 20, 30]

    msg = _err(tmp_path, m)
    assert msg.endswith("instances.json: annotation 17 (image 3, 'a.png'): box [50, 4, 20, 30] lies outside the "
                        "64x48 image")


@pytest.mark.parametrize("bbox,ok", [([-0.4, 0, 10, 10], True), ([-0.6, 0, 10, 10], False),
                                     ([0, 0, 64.5, 48], True), ([0, 0, 64.6, 48], False),
                                     ([0, 38.4, 10, 10], True), ([0, 38.6, 10, 10], False)])
def test_box_tolerance_half_pixel(tmp_path, bbox, ok):
    d = _valid()
    d["annotations"][0]["bbox"] = bbox
    p = _write_json(tmp_path, d)
    if ok:
        load_coco(p)
    else:
        with pytest.raises(DataError, match="lies outside the 64x48 image"):
            load_coco(p)


def test_unknown_category(tmp_path):
    def m(d):
        d["annotations"][2]["category_id"] = 99

    assert _err(tmp_path, m).endswith("instances.json: annotation 19 has category_id 99, not among the categories "
                                      "[2, 5, 9]")


@pytest.mark.parametrize("wh", [[0, 5], [5, 0], [-3, 5]])
def test_non_positive_box_size(tmp_path, wh):
    def m(d):
        d["annotations"][1]["bbox"] = [1, 1, *wh]

    msg = _err(tmp_path, m)
    assert "annotation 18 (image 3, 'a.png')" in msg and "non-positive width or height" in msg


def test_non_positive_image_size(tmp_path):
    def m(d):
        d["images"][0]["height"] = 0

    assert "image 3 ('a.png') has width 64 and height 0, expected positive integers" in _err(tmp_path, m)


def test_unknown_image_id(tmp_path):
    def m(d):
        d["annotations"][3]["image_id"] = 4

    assert _err(tmp_path, m).endswith("annotation 20 has image_id 4, not among the 2 images' ids")


@pytest.mark.parametrize("where,key,expect", [
    ("annotations", "bbox", "annotation 17 lacks key 'bbox'"),
    ("annotations", "id", "annotation #0 lacks key 'id'"),
    ("annotations", "category_id", "annotation 17 lacks key 'category_id'"),
    ("images", "width", "image 3 lacks key 'width'"),
    ("images", "file_name", "image 3 lacks key 'file_name'"),
    ("categories", "id", "category #0 lacks key 'id'"),
])
def test_missing_entry_keys(tmp_path, where, key, expect):
    def m(d):
        del d[where][0][key]

    assert _err(tmp_path, m).endswith(expect)


@pytest.mark.parametrize("key", ["images", "annotations", "categories"])
def test_missing_top_level_key(tmp_path, key):
    def m(d):
        del d[key]

    assert f"missing key {key!r}" in _err(tmp_path, m)


def test_duplicates_and_bad_values(tmp_path):
    assert "annotation id 17 occurs twice" in _err(tmp_path, lambda d: d["annotations"][1].update(id=17))
    assert "image id 3 occurs twice" in _err(tmp_path, lambda d: d["images"][1].update(id=3))
    assert "category id 9 occurs twice" in _err(tmp_path, lambda d: d["categories"][1].update(id=9))
    assert "is not 4 finite numbers" in _err(tmp_path, lambda d: d["annotations"][0].update(bbox=[1, 2, 3]))
    assert "is not 4 finite numbers" in _err(tmp_path, lambda d: d["annotations"][0].update(bbox=[1, 2, "3", 4]))
    assert "iscrowd is 2, expected 0 or 1" in _err(tmp_path, lambda d: d["annotations"][0].update(iscrowd=2))


def test_unreadable_json(tmp_path):
    p = tmp_path / "instances.json"
    p.write_text('{"images": [}')
    with pytest.raises(DataError, match=r"instances.json: not valid JSON \(line 1, column 13") as e:
        load_coco(p)
    assert "\n" not in str(e.value)
    with pytest.raises(DataError, match="cannot read it"):
        load_coco(tmp_path / "missing.json")
    p.write_text("[1, 2]")
    with pytest.raises(DataError, match="expected a JSON object"):
        load_coco(p)


def test_write_coco_round_trip_atomic(tmp_path):
    d = _valid()
    out = write_coco(tmp_path / "w.json", d["images"], d["annotations"], d["categories"], info=d["info"])
    assert [f.name for f in tmp_path.iterdir()] == ["w.json"]  # no temporary file left
    assert json.loads(out.read_text()) == {"info": d["info"], **{k: d[k] for k in ("images", "annotations",
                                                                                  "categories")}}
    assert len(load_coco(out).annotations) == 4


def test_xywh_to_xyxy():
    assert xywh_to_xyxy(torch.tensor([[1.0, 2.0, 3.0, 4.0]])).tolist() == [[1.0, 2.0, 4.0, 6.0]]
    with pytest.raises(ValueError):
        xywh_to_xyxy(torch.zeros(4))


def test_xyxy_to_xywh_round_trip():
    g = torch.Generator().manual_seed(0)
    xywh = torch.cat([torch.rand(20, 2, generator=g) * 100, torch.rand(20, 2, generator=g) * 50 + 1], dim=1)
    torch.testing.assert_close(xyxy_to_xywh(xywh_to_xyxy(xywh)), xywh)
    assert xywh_to_xyxy(torch.zeros(0, 4)).shape == (0, 4)
    assert xywh_to_xyxy(xywh.double()).dtype == torch.float64
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        xyxy_to_xywh(torch.zeros(3, 5))


def _hflip_before(image, target):
    """hflip_detection of rawvision.data.detection (hand-written flip), the reference."""
    w = image.shape[-1]
    out = dict(target)
    for key in ("boxes", "crowd_boxes"):
        if key in target:
            b = target[key]
            out[key] = torch.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], dim=1) if b.numel() else b
    return image.flip(-1), out


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.int64])
def test_hflip_detection_equals_the_hand_written_flip(dtype):
    g = torch.Generator().manual_seed(1)
    for trial in range(12):
        c, h, w = 1 + trial % 4, 5 + trial, 7 + 3 * trial
        image = (torch.rand(c, h, w, generator=g) * 200).to(dtype)
        n, m = trial % 4, (trial + 1) % 3  # includes empty boxes and empty crowd boxes
        xy = torch.rand(n, 2, generator=g) * torch.tensor([w / 2, h / 2])
        boxes = torch.cat([xy, xy + torch.rand(n, 2, generator=g) * torch.tensor([w / 2, h / 2])], dim=1)
        crowd = torch.rand(m, 4, generator=g).sort(dim=1).values * w
        target = {"boxes": boxes, "labels": torch.arange(n), "image_id": trial}
        if trial % 2:
            target["crowd_boxes"] = crowd
        got_image, got = hflip_detection(image, target)
        ref_image, ref = _hflip_before(image, target)
        assert type(got_image) is torch.Tensor and got_image.dtype == dtype and torch.equal(got_image, ref_image)
        assert got.keys() == ref.keys() == target.keys()
        for key in ("boxes", "crowd_boxes"):
            if key in ref:
                assert type(got[key]) is torch.Tensor and got[key].shape == ref[key].shape
                assert torch.equal(got[key], ref[key]), (trial, key)
        assert got["labels"] is target["labels"] and got["image_id"] == trial
        assert torch.equal(target["boxes"], boxes)  # the input is not modified
    # flipping twice is the identity
    img2, t2 = hflip_detection(*hflip_detection(image, target))
    assert torch.equal(img2, image) and torch.allclose(t2["boxes"], target["boxes"])
