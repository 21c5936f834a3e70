"""Batch mixing for function matching (Beyer et al., CVPR 2022, "Knowledge distillation: A good teacher is patient
and consistent"): the RGB batch is mixed *before* the RAW simulation, so the teacher reads the mixed RGB and the
student the RAW of the very same mixed image (consistent views).

The mixing itself is torchvision's ``transforms.v2.MixUp`` / ``CutMix``, run under a forked global RNG seeded by the
caller (``(seed, step, rank)`` in the datamodules), so the draws are reproducible, differ per rank and survive a
resume.
"""

from __future__ import annotations

import torch

__all__ = ["MIXINGS", "mix_batch"]

#: Batch mixings: ``none``, ``mixup`` (convex combination with the batch rolled by one, weight ~ Beta(a, a)),
#: ``cutmix`` (a box of the rolled batch pasted in, area ~ Beta(a, a)).
MIXINGS = ("none", "mixup", "cutmix")


def mix_batch(rgb: torch.Tensor, kind: str = "mixup", alpha: float = 1.0, seed: int = 0) -> tuple[torch.Tensor,
                                                                                                   torch.Tensor]:
    """Mix a batch of images with torchvision's MixUp or CutMix, reproducibly.

    Args:
        rgb: (B, C, H, W) float images (any range), B >= 2, any device.
        kind: one of :data:`MIXINGS`.
        alpha: the Beta(alpha, alpha) parameter (> 0; 1 = uniform).
        seed: seeds the draw (the global RNG is forked, so the caller's stream is untouched).

    Returns:
        ``(mixed, weights)``: the mixed batch (B, C, H, W), and (B, B) float32 weights on its device: row i says how much of
        image j is in mixed image i (for MixUp exactly ``mixed_i = sum_j w_ij rgb_j``; for CutMix the area shares).

    Raises:
        ValueError: an unknown kind, alpha <= 0, or a batch of one image.

    Source: Zhang et al. 2018 (mixup), Yun et al. 2019 (CutMix); applied before both networks as Beyer et al. 2022.

    Example:
        >>> x = torch.stack([torch.zeros(1, 4, 4), torch.ones(1, 4, 4)])
        >>> mixed, w = mix_batch(x, "mixup", seed=0)
        >>> bool(torch.allclose(mixed[0], w[0, 0] * x[0] + w[0, 1] * x[1])), bool(torch.allclose(w.sum(1), torch.ones(2)))
        (True, True)
    """
    if kind not in MIXINGS:
        raise ValueError(f"unknown mixing {kind!r}: expected one of {', '.join(MIXINGS)}")
    b = rgb.shape[0]
    if kind == "none":
        return rgb, torch.eye(b)
    if not alpha > 0:
        raise ValueError(f"mixing alpha must be > 0, got {alpha}")
    if b < 2:
        raise ValueError("mixing needs a batch of at least 2 images")
    from torchvision.transforms import v2

    cls = v2.MixUp if kind == "mixup" else v2.CutMix
    labels = torch.arange(b, device=rgb.device)  # one class per image: the mixed one-hot rows are the weights
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        mixed, weights = cls(alpha=float(alpha), num_classes=b)(rgb, labels)
    return mixed, weights.float()
