"""COCO detection metrics: AP@[.5:.95], AP50, AP75 (and by object size, and AR) through torchmetrics.

Only the COCO protocol is used: 10 IoU thresholds 0.50:0.05:0.95, precision interpolated at 101 recall points
(max precision at recall >= r), up to 100 detections per image, crowd ground truth ignored (detections matched
to it count neither as true nor as false positives). Never the PASCAL VOC 11-point mAP.

The computation is torchmetrics' ``MeanAveragePrecision(iou_type="bbox")`` on the ``pycocotools`` backend (the
reference COCO evaluation code) or, when only that is installed, ``faster_coco_eval``.
"""

from __future__ import annotations

import importlib.util
import math

import torch

__all__ = ["COCO_KEYS", "coco_ap", "coco_map_metric", "coco_metric_inputs", "summarize_map"]

#: torchmetrics key -> rawvision key: AP@[.5:.95], AP at IoU 0.5 and 0.75, AP by object area (small < 32^2 <=
#: medium < 96^2 <= large, pixels), AR with at most 1, 10, 100 detections per image.
COCO_KEYS = {
    "map": "AP", "map_50": "AP50", "map_75": "AP75", "map_small": "APs", "map_medium": "APm", "map_large": "APl",
    "mar_1": "AR1", "mar_10": "AR10", "mar_100": "AR100",
}


def _backend() -> str:
    for name, module in (("pycocotools", "pycocotools"), ("faster_coco_eval", "faster_coco_eval")):
        if importlib.util.find_spec(module) is not None:
            return name
    raise ModuleNotFoundError("COCO AP needs pycocotools or faster_coco_eval: pip install pycocotools")


def coco_map_metric(class_metrics: bool = False, **kwargs):
    """A torchmetrics ``MeanAveragePrecision`` with COCO's settings (bbox, xyxy boxes), for accumulating over batches.

    Feed it with :func:`coco_metric_inputs` (crowd boxes) and read it with :func:`summarize_map`.

    Args:
        class_metrics: also compute AP and AR@100 per class (slower).
        **kwargs: passed to ``MeanAveragePrecision`` (e.g. ``max_detection_thresholds``); leave the IoU and
            recall thresholds at COCO's defaults to report COCO AP.

    Returns:
        ``torchmetrics.detection.MeanAveragePrecision``.

    Raises:
        ModuleNotFoundError: neither pycocotools nor faster_coco_eval is installed.

    Example:
        >>> m = coco_map_metric()
        >>> m.update(*coco_metric_inputs(preds, targets))      # doctest: +SKIP
        >>> summarize_map(m.compute())["AP"]                   # doctest: +SKIP
    """
    import rawvision  # noqa: F401  (torchvision import on a CPU-only torch)
    from torchmetrics.detection import MeanAveragePrecision

    return MeanAveragePrecision(box_format="xyxy", iou_type="bbox", class_metrics=class_metrics, backend=_backend(),
                                **kwargs)


def _check_list(x, name: str) -> list[dict]:
    if isinstance(x, dict):
        x = [x]
    if not isinstance(x, (list, tuple)) or not all(isinstance(d, dict) for d in x):
        raise ValueError(f"{name} must be a list of dicts (one per image), got {type(x).__name__}")
    return list(x)


def coco_metric_inputs(preds: list[dict], targets: list[dict]) -> tuple[list[dict], list[dict]]:
    """Convert detector outputs and dataset targets into torchmetrics' input, crowd annotations included.

    Args:
        preds: per image ``boxes`` (K, 4) float ``[x1, y1, x2, y2]`` pixels, ``scores`` (K,), ``labels`` (K,) int.
        targets: per image ``boxes`` (N, 4), ``labels`` (N,), and optionally ``crowd_boxes`` (M, 4) and
            ``crowd_labels`` (M,) (as :class:`rawvision.data.coco.CocoDetection` gives them) or ``iscrowd`` (N,).

    Returns:
        ``(preds, targets)``: lists of dicts with detached CPU tensors; targets carry ``iscrowd`` (N + M,).

    Raises:
        ValueError: not lists of dicts, different lengths, missing keys, shapes that do not agree.
    """
    preds, targets = _check_list(preds, "preds"), _check_list(targets, "targets")
    if len(preds) != len(targets):
        raise ValueError(f"got predictions for {len(preds)} images and targets for {len(targets)}")
    p_out, t_out = [], []
    for i, (p, t) in enumerate(zip(preds, targets)):
        for key in ("boxes", "scores", "labels"):
            if key not in p:
                raise ValueError(f"prediction {i} lacks {key!r} (expected boxes, scores, labels)")
        for key in ("boxes", "labels"):
            if key not in t:
                raise ValueError(f"target {i} lacks {key!r} (expected boxes, labels)")
        pb = torch.as_tensor(p["boxes"]).detach().float().cpu().reshape(-1, 4)
        ps = torch.as_tensor(p["scores"]).detach().float().cpu().reshape(-1)
        pl = torch.as_tensor(p["labels"]).detach().long().cpu().reshape(-1)
        if not pb.shape[0] == ps.shape[0] == pl.shape[0]:
            raise ValueError(f"prediction {i}: {pb.shape[0]} boxes, {ps.shape[0]} scores, {pl.shape[0]} labels")
        tb = torch.as_tensor(t["boxes"]).detach().float().cpu().reshape(-1, 4)
        tl = torch.as_tensor(t["labels"]).detach().long().cpu().reshape(-1)
        if tb.shape[0] != tl.shape[0]:
            raise ValueError(f"target {i}: {tb.shape[0]} boxes but {tl.shape[0]} labels")
        crowd = torch.as_tensor(t.get("iscrowd", torch.zeros(tl.shape[0]))).detach().long().cpu().reshape(-1)
        if crowd.shape[0] != tl.shape[0]:
            raise ValueError(f"target {i}: {tb.shape[0]} boxes but {crowd.shape[0]} iscrowd flags")
        if "crowd_boxes" in t:
            cb = torch.as_tensor(t["crowd_boxes"]).detach().float().cpu().reshape(-1, 4)
            cl = torch.as_tensor(t.get("crowd_labels", torch.zeros(0))).detach().long().cpu().reshape(-1)
            if cb.shape[0] != cl.shape[0]:
                raise ValueError(f"target {i}: {cb.shape[0]} crowd boxes but {cl.shape[0]} crowd labels")
            tb, tl = torch.cat([tb, cb]), torch.cat([tl, cl])
            crowd = torch.cat([crowd, torch.ones(cb.shape[0], dtype=torch.long)])
        p_out.append({"boxes": pb, "scores": ps, "labels": pl})
        t_out.append({"boxes": tb, "labels": tl, "iscrowd": crowd})
    return p_out, t_out


def summarize_map(result: dict, per_class: bool = False) -> dict:
    """torchmetrics' ``MeanAveragePrecision.compute()`` -> plain floats under :data:`COCO_KEYS`' names, in [0, 1].

    A value COCO leaves undefined (-1: no ground truth, e.g. no small objects) becomes NaN, so that it cannot be
    averaged by accident. ``per_class`` (for a metric built with ``class_metrics=True``) adds ``AP_per_class`` and
    ``AR100_per_class``: {label: float}.

    Raises:
        KeyError: ``result`` is not a ``MeanAveragePrecision`` result (or lacks the per-class entries).
    """
    out = {}
    for src, dst in COCO_KEYS.items():
        v = float(result[src])
        out[dst] = math.nan if v == -1 else v
    if per_class:
        classes = torch.as_tensor(result["classes"]).reshape(-1).tolist()
        for src, dst in (("map_per_class", "AP_per_class"), ("mar_100_per_class", "AR100_per_class")):
            vals = torch.as_tensor(result[src]).reshape(-1).tolist()
            out[dst] = {int(c): (math.nan if v == -1 else float(v)) for c, v in zip(classes, vals)}
    return out


def coco_ap(preds: list[dict], targets: list[dict], class_metrics: bool = False) -> dict:
    """COCO box AP of a detector's predictions on a set of images.

    Args:
        preds: one dict per image, as torchvision detectors return in eval mode: ``boxes`` (K, 4) float
            ``[x1, y1, x2, y2]`` in pixels, ``scores`` (K,) float, ``labels`` (K,) int64.
        targets: one dict per image: ``boxes`` (N, 4) float ``[x1, y1, x2, y2]`` pixels, ``labels`` (N,) int64,
            optionally ``crowd_boxes``/``crowd_labels`` or ``iscrowd`` (crowd regions, ignored as COCO does).
        class_metrics: also return ``AP_per_class`` and ``AR100_per_class`` ({label: value}).

    Returns:
        ``{"AP": AP@[.5:.95], "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100"}`` as floats in [0, 1]
        (NaN where COCO's value is undefined, e.g. APs without small objects, or everything without ground truth).
        Empty predictions give AP 0.

    Raises:
        ValueError: malformed inputs (see :func:`coco_metric_inputs`).
        ModuleNotFoundError: neither pycocotools nor faster_coco_eval is installed.

    Source: Lin et al., "Microsoft COCO: Common Objects in Context", ECCV 2014, and the COCO detection evaluation
    (https://cocodataset.org/#detection-eval): 10 IoU thresholds, 101-point interpolated precision, maxDets 100.

    Example:
        >>> t = [{"boxes": torch.tensor([[0.0, 0.0, 100.0, 100.0]]), "labels": torch.tensor([1])}]
        >>> p = [{"boxes": torch.tensor([[0.0, 0.0, 100.0, 100.0]]), "scores": torch.tensor([0.9]),
        ...       "labels": torch.tensor([1])}]
        >>> coco_ap(p, t)["AP"]
        1.0
    """
    p, t = coco_metric_inputs(preds, targets)
    metric = coco_map_metric(class_metrics=class_metrics)
    metric.update(p, t)
    return summarize_map(metric.compute(), per_class=class_metrics)
