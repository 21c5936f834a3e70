"""Samplers and loaders that make training correct under DDP and exactly resumable.

Random training draws (crops, flips, the training noise) are derived from ``(seed, epoch, index)`` or
``(seed, step, rank)``, never from the global RNG, so N ranks draw N different batches, and a run resumed from a
mid-epoch checkpoint sees the very batches the uninterrupted run saw:

- :class:`EpochSampler` is a :class:`~torch.utils.data.DistributedSampler` (Lightning keeps it as it is under DDP
  and calls its ``set_epoch``) that yields ``(epoch, index)`` pairs; a dataset that draws at random seeds its
  draws with :func:`seeded_generator` ``(seed, epoch, index)``.
- :class:`EvalSampler` splits an evaluation set over the ranks *without padding*: ``DistributedSampler`` repeats
  samples to give every rank the same count, and the repeats would be counted twice by the metrics.
- :class:`ResumableLoader` is a ``DataLoader`` with Lightning's ``state_dict`` / ``load_state_dict`` interface: the
  checkpoint records the epoch and how many batches of it were consumed, and the resumed loader skips them.
"""

from __future__ import annotations

import math

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

__all__ = ["EpochSampler", "EvalSampler", "ResumableLoader", "seeded_generator", "mix_seed", "split_index"]

_MASK = (1 << 63) - 1


def mix_seed(*keys: int) -> int:
    """A 63-bit seed from integer keys (SplitMix64 finaliser over the sequence): distinct keys give unrelated seeds.

    Example:
        >>> mix_seed(0, 1, 2) == mix_seed(0, 1, 2), mix_seed(0, 1, 2) == mix_seed(0, 2, 1)
        (True, False)
    """
    h = 0x9E3779B97F4A7C15
    for k in keys:
        h = (h ^ (int(k) & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
        h = h * 0x94D049BB133111EB & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 29
    return h & _MASK


def seeded_generator(*keys: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded by :func:`mix_seed` of ``keys`` (e.g. ``(seed, epoch, index)``).

    Example:
        >>> a = torch.rand(2, generator=seeded_generator(0, 3, 7))
        >>> torch.equal(a, torch.rand(2, generator=seeded_generator(0, 3, 7)))
        True
    """
    return torch.Generator(device=device).manual_seed(mix_seed(*keys))


def split_index(item) -> tuple[int | None, int]:
    """``(epoch, index)`` from what a sampler yields: an ``(epoch, index)`` pair (training) or a plain index
    (evaluation, epoch None)."""
    if isinstance(item, (tuple, list)):
        return int(item[0]), int(item[1])
    return None, int(item)


class EpochSampler(DistributedSampler):
    """Shuffled (seeded by ``seed`` and the epoch), split over ``num_replicas`` ranks, yielding ``(epoch, index)``.

    One process is ``num_replicas=1, rank=0``. With ``drop_last=False`` the ranks' shares are padded to equal length
    (a training epoch may repeat a few samples; evaluation uses :class:`EvalSampler`). ``skip`` samples are left out
    at the start of the next iteration only (set by :class:`ResumableLoader` when a run resumes mid-epoch).
    """

    def __init__(self, dataset: Dataset, num_replicas: int = 1, rank: int = 0, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed,
                         drop_last=drop_last)
        self.skip = 0

    def __iter__(self):
        epoch, skip = self.epoch, self.skip
        self.skip = 0
        indices = list(super().__iter__())
        for i in indices[skip:]:
            yield (epoch, int(i))


class EvalSampler(DistributedSampler):
    """Indices ``rank, rank + R, rank + 2R, ...`` of a dataset of ``n`` items: every item on exactly one rank, no
    padding, so metrics gathered over the ranks count each item once (the rank shares may differ by one).

    A ``DistributedSampler`` subclass only so that Lightning keeps it (it replaces any other sampler under DDP).

    Example:
        >>> list(EvalSampler(5, num_replicas=2, rank=0)), list(EvalSampler(5, num_replicas=2, rank=1))
        ([0, 2, 4], [1, 3])
    """

    def __init__(self, n: int, num_replicas: int = 1, rank: int = 0) -> None:
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} outside 0..{num_replicas - 1}")
        self.n, self.num_replicas, self.rank = int(n), int(num_replicas), int(rank)
        self.epoch, self.shuffle, self.seed, self.drop_last = 0, False, 0, False

    def __iter__(self):
        return iter(range(self.rank, self.n, self.num_replicas))

    def __len__(self) -> int:
        return max(0, math.ceil((self.n - self.rank) / self.num_replicas))


class ResumableLoader(DataLoader):
    """A training ``DataLoader`` over an :class:`EpochSampler` that Lightning can checkpoint mid-epoch.

    ``consumed`` counts the batches of the current epoch that the training loop has taken (the datamodule calls
    :meth:`mark_consumed` once per training batch, in ``on_after_batch_transfer``, so the loop's one-batch prefetch
    is not counted). ``state_dict()`` is saved in the checkpoint by Lightning's fit loop; ``load_state_dict()``
    makes the next iteration start at the same epoch, after the consumed batches.
    """

    def __init__(self, dataset: Dataset, sampler: EpochSampler, batch_size: int, **kwargs) -> None:
        super().__init__(dataset, sampler=sampler, batch_size=batch_size, **kwargs)
        self._epoch, self._consumed = None, 0

    def mark_consumed(self) -> None:
        epoch = self.sampler.epoch
        if epoch != self._epoch:
            self._epoch, self._consumed = epoch, 0
        self._consumed += 1

    def state_dict(self) -> dict:
        return {"epoch": self._epoch, "consumed": self._consumed, "batch_size": self.batch_size}

    def load_state_dict(self, state: dict) -> None:
        if state.get("epoch") is None:
            return
        if state.get("batch_size") != self.batch_size:
            raise ValueError(f"the checkpoint's training batch size {state.get('batch_size')} differs from "
                             f"{self.batch_size}: a resumed run must use the same batch size")
        self.sampler.set_epoch(int(state["epoch"]))
        self.sampler.skip = int(state["consumed"]) * self.batch_size
        self._epoch, self._consumed = int(state["epoch"]), int(state["consumed"])
