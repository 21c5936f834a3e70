"""Make the CUDA build of torchvision importable on a CPU-only torch.

The torchvision wheel on these machines is a CUDA build; with a CPU torch its C++ extension ``_C.so`` fails to
load, and ``import torchvision`` (and so ``lightning``, ``timm``, ``torchmetrics``) dies with
``RuntimeError: operator torchvision::nms does not exist`` (pytorch/vision#9085), because
``torchvision/_meta_registrations.py`` registers fake kernels for ``torchvision::nms`` and ``torchvision::qnms``
unconditionally.

:func:`install` fixes this, and does nothing where the extension loads:

1. it defines the ``torchvision::nms`` and ``torchvision::qnms`` operator schemas with :mod:`torch.library`, so the
   import succeeds (models, transforms and datasets then work: they need no custom op);
2. it registers a pure-torch CPU kernel for ``torchvision::nms`` (:func:`nms_reference`) and lets
   ``torchvision.ops.nms`` / ``batched_nms`` through ``_assert_has_ops``, so detection post-processing works too.

``torchvision.io`` decoders stay missing: rawvision decodes images with Pillow. Other custom ops (``roi_align``,
``deform_conv2d``, ...) stay undefined: calling them raises an error naming the missing ``torchvision::`` operator.

:func:`install` runs when :mod:`rawvision` is imported, before anything imports torchvision.
"""

from __future__ import annotations

import glob
import importlib.util
import os

import torch

__all__ = ["install", "nms_reference", "torchvision_extension_loaded", "PATCHED"]

#: True once :func:`install` had to patch torchvision (its extension did not load).
PATCHED = False
_LIB: torch.library.Library | None = None


def torchvision_extension_loaded() -> bool:
    """Return True if torchvision's compiled ops (``torch.ops.torchvision.nms``) are usable, loading them if needed.

    Returns False when torchvision is not installed or its ``_C`` extension cannot be loaded with this torch.
    """
    if hasattr(torch.ops.torchvision, "nms"):
        return True
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        return False
    for lib in glob.glob(os.path.join(os.path.dirname(spec.origin), "_C*.so")) + glob.glob(
        os.path.join(os.path.dirname(spec.origin), "_C*.pyd")
    ):
        try:
            torch.ops.load_library(lib)
        except (OSError, RuntimeError, ImportError):
            return False
    return hasattr(torch.ops.torchvision, "nms")


def nms_reference(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression in pure torch (the semantics of ``torchvision.ops.nms``).

    Args:
        boxes: (N, 4) float boxes ``(x1, y1, x2, y2)`` in pixels, ``x1 <= x2``, ``y1 <= y2``.
        scores: (N,) float scores.
        iou_threshold: boxes whose IoU with a kept, higher-scoring box is > this value are discarded.

    Returns:
        (K,) int64 indices of the kept boxes, in decreasing order of score.

    Source: the greedy NMS of torchvision's CPU kernel (``torchvision/csrc/ops/cpu/nms_kernel.cpp``), re-implemented.
    """
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    b = boxes.float()
    x1, y1, x2, y2 = b.unbind(1)
    areas = (x2 - x1) * (y2 - y1)
    order = torch.sort(scores, descending=True, stable=True).indices
    # pairwise IoU once, then a sequential sweep over the sorted boxes
    xx1 = torch.maximum(x1[:, None], x1[None, :])
    yy1 = torch.maximum(y1[:, None], y1[None, :])
    xx2 = torch.minimum(x2[:, None], x2[None, :])
    yy2 = torch.minimum(y2[:, None], y2[None, :])
    inter = (xx2 - xx1).clamp(min=0) * (yy2 - yy1).clamp(min=0)
    iou = inter / (areas[:, None] + areas[None, :] - inter)
    suppressed = torch.zeros(b.shape[0], dtype=torch.bool, device=b.device)
    keep = []
    iou_sorted = (iou[order][:, order] > iou_threshold).cpu()
    sup = suppressed.cpu()
    for i in range(order.numel()):
        if sup[i]:
            continue
        keep.append(i)
        sup |= iou_sorted[i]
    return order[torch.tensor(keep, dtype=torch.long, device=order.device)]


def install() -> bool:
    """Patch torchvision if (and only if) its C++ extension cannot load. Idempotent.

    Returns:
        True if torchvision was patched, False if nothing was needed (extension loads, or torchvision absent).
    """
    global PATCHED, _LIB
    if PATCHED:
        return True
    if importlib.util.find_spec("torchvision") is None or torchvision_extension_loaded():
        return False
    _LIB = torch.library.Library("torchvision", "DEF")  # noqa: TOR901 - kept alive at module level
    _LIB.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _LIB.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _LIB.impl("nms", nms_reference, "CPU")
    _LIB.impl("nms", nms_reference, "CUDA")
    import torchvision.extension  # noqa: E402  (safe now that the schemas exist)

    torchvision.extension._has_ops = lambda: True  # noqa: SLF001 - only nms is backed; see module docstring
    PATCHED = True
    return True
