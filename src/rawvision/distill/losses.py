"""The ISP Distillation loss (Schwartz, Bronstein, Giryes, "ISP Distillation", Eq. 3, 4 and 7)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["kd_loss", "feature_loss", "isp_distillation_loss", "segmentation_distillation_loss"]


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 4.0,
            dim: int = -1) -> torch.Tensor:
    """Knowledge-distillation loss at temperature T (Hinton et al. 2015; ISP Distillation Eq. 3).

    ``T^2 * KL(p || q)``, averaged over every position but the class axis ``dim`` (the batch for (B, K) logits;
    batch and pixels for dense (B, K, H, W) logits with ``dim=1``: per-location KD, ISP Distillation Eq. 8), with
    ``p = softmax(teacher / T)`` and ``q = softmax(student / T)`` along ``dim``.
    This is the paper's ``-sum_i p_i log q_i`` (its Eq. 3 prints the sum without the minus sign) less the teacher's
    entropy, a constant: the gradients are the same, and the value is 0 when the student matches the teacher.
    The ``T^2`` factor keeps the gradient scale independent of T (Hinton et al., Sec. 2).

    Args:
        student_logits, teacher_logits: (B, K) float logits, or any shape with the K classes on axis ``dim``.
        temperature: T > 0.
        dim: the class axis.

    Returns:
        Scalar tensor (nats).

    Raises:
        ValueError: T <= 0 or mismatched shapes.
    """
    if temperature <= 0:
        raise ValueError(f"KD temperature must be > 0, got {temperature}")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student logits {tuple(student_logits.shape)} and teacher's {tuple(teacher_logits.shape)} differ")
    t = float(temperature)
    log_q = F.log_softmax(student_logits.float() / t, dim=dim)
    log_p = F.log_softmax(teacher_logits.float() / t, dim=dim)
    kl = (log_p.exp() * (log_p - log_q)).sum(dim=dim)  # KL per position
    return kl.mean() * (t * t)


def feature_loss(student_features: torch.Tensor, teacher_features: torch.Tensor) -> torch.Tensor:
    """The l2 term of Eq. 4 between penultimate features: mean squared difference over batch and dimensions.

    Args:
        student_features, teacher_features: (B, D) float, or feature maps (B, C, h, w) (segmentation: the
            backbone's last map), the mean then over every element.

    Returns:
        Scalar tensor, in squared feature units.
    """
    if student_features.shape != teacher_features.shape:
        raise ValueError(
            f"student features {tuple(student_features.shape)} and teacher's {tuple(teacher_features.shape)} differ"
        )
    return F.mse_loss(student_features.float(), teacher_features.float())


def isp_distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor | None = None,
    student_features: torch.Tensor | None = None,
    teacher_features: torch.Tensor | None = None,
    *,
    alpha: float = 0.9,
    temperature: float = 4.0,
    beta: float = 1.0,
    ignore_index: int = -1,
) -> dict[str, torch.Tensor]:
    """``L = alpha * CE(student, labels) + (1 - alpha) * (T^2 KL_T(teacher || student) + beta * l2(f_t, f_s))``.

    ISP Distillation Eq. 7 with the extended KD loss of Eq. 4. The paper's defaults are alpha = 0.9 and T = 4; it
    gives no weight for the feature term (Eq. 4 adds it with weight 1), so ``beta`` defaults to 1.

    Args:
        student_logits: (B, K) logits of the RAW model.
        teacher_logits: (B, K) logits of the RGB teacher on the matching RGB image.
        labels: (B,) int64 class indices for the CE term; None uses the teacher's hard labels (argmax), as the
            paper does when no human labels exist. Entries equal to ``ignore_index`` are ignored.
        student_features, teacher_features: (B, D) penultimate features; needed when ``beta != 0`` and
            ``alpha != 1``.
        alpha: weight of the CE term in [0, 1]; 1 gives plain CE training (no KD).
        temperature: KD temperature T > 0.
        beta: weight of the feature l2 term (>= 0); 0 gives KD without the feature loss.
        ignore_index: label value left out of the CE term (the mean is over the other entries).

    Dense logits (B, K, h, w) with labels (B, h, w) work the same way (classes on axis 1; the per-location form
    of Eq. 8): see :func:`segmentation_distillation_loss`.

    Returns:
        dict with ``loss`` (the total, scalar) and its unweighted terms ``ce``, ``kd``, ``feat`` (detached).

    Raises:
        ValueError: alpha outside [0, 1], beta < 0, T <= 0, or features missing while needed.
    """
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    if labels is None:
        labels = teacher_logits.argmax(dim=1)
    return _combine(student_logits, labels, student_logits, teacher_logits, student_features, teacher_features,
                    alpha, temperature, beta, ignore_index)


def _combine(ce_logits, labels, student_logits, teacher_logits, student_features, teacher_features, alpha,
             temperature, beta, ignore_index) -> dict[str, torch.Tensor]:
    """Eq. 7 / Eq. 8's terms: CE of ``ce_logits`` against ``labels`` (``ignore_index`` left out; 0, not NaN, when
    every label is ignored), KD between the logits along axis 1, the feature l2; and their weighted sum."""
    zero = student_logits.new_zeros(())
    if alpha > 0:  # the mean over the labelled entries, as reduction="mean"; 0 (not 0/0) when none is labelled,
        # without a host sync on the count
        n = (labels != ignore_index).sum().clamp_min(1)
        ce = F.cross_entropy(ce_logits.float(), labels, ignore_index=ignore_index, reduction="sum") / n
    else:
        ce = zero
    kd = kd_loss(student_logits, teacher_logits, temperature, dim=1) if alpha < 1 else zero
    if alpha < 1 and beta > 0:
        if student_features is None or teacher_features is None:
            raise ValueError("the feature loss (beta > 0) needs student_features and teacher_features")
        feat = feature_loss(student_features, teacher_features)
    else:
        feat = zero
    loss = alpha * ce + (1 - alpha) * (kd + beta * feat)
    return {"loss": loss, "ce": ce.detach(), "kd": kd.detach(), "feat": feat.detach()}


def segmentation_distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor | None = None,
    student_features: torch.Tensor | None = None,
    teacher_features: torch.Tensor | None = None,
    *,
    alpha: float = 0.9,
    temperature: float = 4.0,
    beta: float = 1.0,
    void_index: int = -1,
) -> dict[str, torch.Tensor]:
    """ISP Distillation for segmentation, Eq. 8: ``L = (1/N) sum_i [alpha CE_i + (1 - alpha) KD_i]`` over the N
    output locations, plus ``(1 - alpha) beta`` times the feature l2 between the backbone's last feature maps.

    KD_i is ``T^2 KL(softmax(t_i / T) || softmax(s_i / T))`` at location i (:func:`kd_loss` along the class axis),
    averaged over all N = B h w locations of the head's output. CE_i is the cross entropy against ``labels``: the
    teacher's per-location argmax (hard labels, no void) when ``labels`` is None, or ground-truth labels, whose
    void pixels are left out: the CE mean is then over the non-void locations (PyTorch's ``ignore_index``
    convention; with no void pixel both normalisations are Eq. 8's 1/N). Ground-truth labels at a larger
    resolution than the head's output (full-resolution masks) are scored against the logits upsampled bilinearly
    to the labels' size (the usual training of segmentation models); labels at the head's resolution are used as
    they are.

    Args:
        student_logits, teacher_logits: (B, K, h, w) float logits at the head's output resolution.
        labels: None, or (B, H, W) int64 class indices (``void_index`` ignored), H, W >= h, w.
        student_features, teacher_features: (B, C, h', w') feature maps (needed when ``beta > 0``, ``alpha < 1``).
        alpha, temperature, beta: as :func:`isp_distillation_loss` (paper: alpha 0.9, T 4).
        void_index: label value excluded from CE (CamVid: 11).

    Returns:
        dict with ``loss`` (scalar) and the unweighted terms ``ce``, ``kd``, ``feat`` (detached), in nats / squared
        feature units.

    Raises:
        ValueError: logits that are not 4-D or differ in shape, labels of another batch size or smaller than the
            logits, alpha/beta/T out of range.

    Source: Schwartz, Bronstein, Giryes, "ISP Distillation" (arXiv 2101.10203), Sec. III, Eq. 8.

    Example:
        >>> s = torch.zeros(1, 2, 1, 2); t = torch.tensor([[[[2.0, -2.0]], [[0.0, 0.0]]]])
        >>> out = segmentation_distillation_loss(s, t, alpha=1.0)  # CE against the teacher's argmax (0, 1)
        >>> round(float(out["ce"]), 4)  # log 2 at both locations
        0.6931
    """
    if student_logits.dim() != 4 or student_logits.shape != teacher_logits.shape:
        raise ValueError(f"segmentation logits must be (B, K, h, w) of equal shape, got student "
                         f"{tuple(student_logits.shape)} and teacher {tuple(teacher_logits.shape)}")
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    logits_ce = student_logits
    if labels is None:
        labels = teacher_logits.argmax(dim=1)  # hard labels at the head's resolution
    else:
        if labels.dim() != 3 or labels.shape[0] != student_logits.shape[0]:
            raise ValueError(f"labels must be (B, H, W) with B = {student_logits.shape[0]}, got {tuple(labels.shape)}")
        if labels.shape[-2] < student_logits.shape[-2] or labels.shape[-1] < student_logits.shape[-1]:
            raise ValueError(f"labels {tuple(labels.shape[-2:])} are smaller than the logits "
                             f"{tuple(student_logits.shape[-2:])}")
        if labels.shape[-2:] != student_logits.shape[-2:]:
            logits_ce = F.interpolate(student_logits.float(), size=labels.shape[-2:], mode="bilinear",
                                      align_corners=False)
        labels = labels.long()
    return _combine(logits_ce, labels, student_logits, teacher_logits, student_features, teacher_features, alpha,
                    temperature, beta, void_index)
