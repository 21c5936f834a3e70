"""Classification metrics on RAW: agreement with the RGB teacher and accuracy against ground truth.

ISP Distillation reports top-1/top-5 accuracy against ImageNet labels (Table I) and, where no labels exist, the
agreement with the RGB teacher's prediction on the matching RGB image, on the patches where the teacher's top
probability is above 0.8 (Table II).
"""

from __future__ import annotations

import torch
from torch import nn
from torchmetrics import SumMetric
from torchmetrics.classification import MulticlassAccuracy

__all__ = ["confident_mask", "RawClassificationMetrics"]


def confident_mask(teacher_logits: torch.Tensor, threshold: float = 0.8) -> torch.Tensor:
    """(B,) bool: True where the teacher's top softmax probability (temperature 1) is strictly above ``threshold``.

    Raises:
        ValueError: threshold outside [0, 1].
    """
    if not 0 <= threshold <= 1:
        raise ValueError(f"confidence threshold must be in [0, 1], got {threshold}")
    return teacher_logits.float().softmax(dim=-1).amax(dim=-1) > threshold


class RawClassificationMetrics(nn.Module):
    """Top-1/top-5 teacher agreement (all patches and the confident subset) and GT accuracy, with counts.

    Built on torchmetrics' ``MulticlassAccuracy`` (micro average, so DDP-synchronised and exact over the set).
    ``compute()`` returns percentages and the number of patches each figure is over:
    ``agree_top1``, ``agree_top5``, ``n_patches``; ``conf_agree_top1``, ``conf_agree_top5``, ``n_confident``;
    ``gt_top1``, ``gt_top5``, ``n_labelled`` (None where there are no labels / no confident patch).
    """

    def __init__(self, num_classes: int = 1000, threshold: float = 0.8) -> None:
        super().__init__()
        self.threshold = float(threshold)
        confident_mask(torch.zeros(1, 2), self.threshold)  # validates the threshold

        def acc(k):
            # validate_args=False: no torch.unique (a host sync) on every batch; our own tensors are valid
            return MulticlassAccuracy(num_classes, top_k=k, average="micro", ignore_index=-1, validate_args=False)

        self.acc = nn.ModuleDict({f"{s}_top{k}": acc(k) for s in ("agree", "conf_agree", "gt") for k in (1, 5)})
        self.counts = nn.ModuleDict({n: SumMetric(nan_strategy="disable")  # no NaN check (a host sync) per batch
                                     for n in ("n_patches", "n_confident", "n_labelled")})

    @torch.no_grad()
    def update(self, logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor | None = None) -> None:
        """logits: (B, K) of the model under test; teacher_logits: (B, K) on the RGB; labels: (B,) or None (-1 = none)."""
        target = teacher_logits.argmax(dim=-1)
        conf = confident_mask(teacher_logits, self.threshold)
        if labels is None:
            labels = torch.full_like(target, -1)
        for k in (1, 5):
            self.acc[f"agree_top{k}"].update(logits, target)
            self.acc[f"conf_agree_top{k}"].update(logits, torch.where(conf, target, torch.full_like(target, -1)))
            self.acc[f"gt_top{k}"].update(logits, labels)
        # tensors, not Python floats: no host sync per batch (the counts are read in compute())
        self.counts["n_patches"].update(torch.ones_like(target, dtype=torch.float32).sum())
        self.counts["n_confident"].update(conf.sum(dtype=torch.float32))
        self.counts["n_labelled"].update((labels >= 0).sum(dtype=torch.float32))

    def compute(self) -> dict[str, float | int | None]:
        n = {k: int(m.compute()) for k, m in self.counts.items()}
        out: dict[str, float | int | None] = dict(n)
        for name, m in self.acc.items():
            group = {"agree": "n_patches", "conf_agree": "n_confident", "gt": "n_labelled"}[name.rsplit("_", 1)[0]]
            out[name] = round(100 * float(m.compute()), 2) if n[group] > 0 else None
        return out

    def reset(self) -> None:
        for m in list(self.acc.values()) + list(self.counts.values()):
            m.reset()
