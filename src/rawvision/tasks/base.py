"""What every task's LightningDataModule and LightningModule share, knowing nothing of the task itself.

:class:`RawDataModule` owns the loaders (:mod:`rawvision.data.sampling`: DDP-split, seeded by
``(seed, epoch, index)``, resumable mid-epoch, evaluation unpadded) and the hook that turns a batch into RAW on its
device (``simulate_train(batch, generator)``, the subclass's; the generator is seeded by ``(seed, step, rank)``).
Evaluation RAW is simulated once per evaluation set, at ``setup``, so every method, batch size and device sees the
same noisy RAW and no evaluation step draws noise.

:class:`RngStateMixin` saves the global RNG states in each checkpoint and restores them on resume (dropout and
drop-path draw from them), so that a resumed run continues with the very draws the uninterrupted run made.
"""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from rawvision.data.sampling import EpochSampler, EvalSampler, ResumableLoader, seeded_generator

__all__ = ["EvalHooksMixin", "RawDataModule", "RngStateMixin", "adamw_schedule", "param_groups"]


class RawDataModule(L.LightningDataModule):
    """Base of the rawvision datamodules: loaders, RAW on the device, per-rank seeding.

    Subclasses set ``seed``, ``batch_size``, ``eval_batch_size``, ``num_workers`` and implement
    ``simulate_train(batch, generator) -> batch`` and ``prepare_eval(batch) -> batch`` (evaluation batches already
    hold their RAW; usually only a dtype conversion is left). Tasks whose student needs per-CFA-site statistics
    implement :meth:`cfa_statistics`; :meth:`has_labels` says whether the training set has ground-truth labels.
    """

    seed: int = 0
    batch_size: int = 32
    eval_batch_size: int = 64
    num_workers: int = 0
    collate_fn = None

    # -- ranks ---------------------------------------------------------------------------------------------------
    def _rank(self) -> tuple[int, int]:
        t = getattr(self, "trainer", None)
        return (int(t.world_size), int(t.global_rank)) if t is not None else (1, 0)

    # -- loaders -------------------------------------------------------------------------------------------------
    def train_loader(self, dataset: Dataset, drop_last: bool = True) -> ResumableLoader:
        """A shuffled, rank-split, resumable loader whose items are ``dataset[(epoch, index)]``."""
        world, rank = self._rank()
        sampler = EpochSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=self.seed)
        drop = drop_last and len(sampler) >= self.batch_size
        self._train_loader = ResumableLoader(dataset, sampler, self.batch_size, drop_last=drop, num_workers=self.num_workers,
                               persistent_workers=self.num_workers > 0, collate_fn=self.collate_fn,
                               generator=torch.Generator().manual_seed(self.seed))
        return self._train_loader

    def eval_loader(self, dataset: Dataset) -> DataLoader:
        """In order, each item on exactly one rank (no padding: the metrics count every item once)."""
        world, rank = self._rank()
        return DataLoader(dataset, batch_size=self.eval_batch_size, sampler=EvalSampler(len(dataset), world, rank),
                          num_workers=self.num_workers, collate_fn=self.collate_fn)

    # -- RAW on the device ----------------------------------------------------------------------------------------
    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        t = getattr(self, "trainer", None)
        if t is not None and t.training:
            loader = getattr(self, "_train_loader", None)
            if loader is not None:
                loader.mark_consumed()
            world, rank = self._rank()
            g = seeded_generator(self.seed, t.global_step, rank, device=self._device_of(batch))
            return self.simulate_train(batch, g)
        return self.prepare_eval(batch)

    @staticmethod
    def _device_of(batch) -> torch.device:
        if isinstance(batch, dict):
            return next(v for v in batch.values() if torch.is_tensor(v)).device
        first = batch[0]
        return (first[0] if isinstance(first, (list, tuple)) else first).device

    def simulate_train(self, batch, generator: torch.Generator):  # pragma: no cover - abstract
        raise NotImplementedError

    def prepare_eval(self, batch):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- checkpoints -------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Saved by Lightning under the class name: it tells ``rawvision evaluate`` which task wrote a checkpoint."""
        return {"class": type(self).__qualname__}

    def load_state_dict(self, state_dict: dict) -> None:
        return None

    # -- what a model may ask of its data (an explicit interface, not duck typing) --------------------------------
    def cfa_statistics(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-CFA-site (R, G, B) mean and std of the training RAW; tasks without a per-CFA input raise."""
        raise NotImplementedError(f"{type(self).__name__} gives no per-CFA-site statistics")

    def has_labels(self) -> bool:
        """Whether the training set has ground-truth labels."""
        return False


class RngStateMixin:
    """LightningModule mixin: the global CPU (and CUDA) RNG states go into every checkpoint and come back on resume,
    just before training continues, so dropout draws after a resume equal those of an uninterrupted run."""

    _rng_to_restore: dict | None = None

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["rawvision_rng"] = {"cpu": torch.get_rng_state(),
                                       "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self._rng_to_restore = checkpoint.get("rawvision_rng")

    def on_train_start(self) -> None:
        state, self._rng_to_restore = self._rng_to_restore, None
        if state is not None:
            torch.set_rng_state(state["cpu"])
            if state.get("cuda") is not None and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(state["cuda"])


def param_groups(model: torch.nn.Module, front_end: torch.nn.Module | None, lr: float,
                 front_end_lr: float | None) -> list[dict]:
    """AdamW parameter groups: the trainable parameters of ``model`` outside ``front_end``, and those of the
    learned front end (TA-ISP, LW-ISP) with their own learning rate (default ``lr``). Empty groups are dropped."""
    front = {id(p) for p in front_end.parameters()} if front_end is not None else set()
    groups = [{"params": [p for p in model.parameters() if p.requires_grad and id(p) not in front]}]
    if front_end is not None:
        groups.append({"params": [p for p in front_end.parameters() if p.requires_grad], "lr": front_end_lr or lr})
    return [g for g in groups if g["params"]]


class EvalHooksMixin:
    """LightningModule mixin: the test and validation hooks of a module with ``test_metrics`` / ``val_metrics``,
    ``_eval_step(batch, metrics)`` (updates them) and ``_eval_end(prefix, metrics) -> dict`` (computes, logs and
    resets); the results land in ``last_eval`` (test) and ``last_val`` (validation: choose settings on it)."""

    def test_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, self.test_metrics)

    def on_test_epoch_end(self) -> None:
        self.last_eval = self._eval_end("test", self.test_metrics)

    def validation_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, self.val_metrics)

    def on_validation_epoch_end(self) -> None:
        self.last_val = self._eval_end("val", self.val_metrics)


def adamw_schedule(groups: list[dict], lr: float, weight_decay: float, schedule: str, module):
    """AdamW over ``groups``; ``schedule`` ``"constant"`` (the optimizer alone; no Trainer needed) or ``"cosine"``
    (per-step cosine decay to 0 over ``module.trainer.estimated_stepping_batches``), in Lightning's
    ``configure_optimizers`` format."""
    opt = torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)
    if schedule == "constant":
        return opt
    steps = max(1, int(module.trainer.estimated_stepping_batches))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
