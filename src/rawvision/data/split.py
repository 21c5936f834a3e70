"""The one seeded train/test (and train/val/test) split of the data readers, by group.

Items that must stay together (overlapping crops of one RAW frame, the patches of one photo) share a *group*; a
split puts whole groups on one side. The rule, used by every split in the package
(:func:`rawvision.data.photos.split_photos`, :func:`rawvision.data.pairs.split_groups`, the paste set's photo
split in :mod:`rawvision.data.paste_objects`):

1. the distinct groups, in order of first appearance in ``items`` (or sorted, ``sort_groups=True``), are shuffled
   with ``random.Random(seed).shuffle``;
2. the test split is the first ``n_test`` groups of that order, with ``n_test = round(test_fraction * n_groups)``
   (Python's round, half to even), raised to 1 when ``test_fraction > 0`` and lowered to ``n_groups - 1``, so
   both sides get at least one group; a split with ``test_fraction > 0`` needs ``n_groups >= 2``;
3. :func:`split_train_val_test` takes the validation split from the *next* ``n_val`` groups of the same order, so
   its test split is :func:`split_by_group`'s, whatever the validation fraction.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

from rawvision.data.errors import DataError

__all__ = ["split_by_group", "split_train_val_test"]

T = TypeVar("T")


def _identity(item):
    return item


def _shuffled_groups(items: Sequence[T], seed: int | str, group: Callable[[T], Hashable], sort_groups: bool
                     ) -> tuple[list[Hashable], list[Hashable]]:
    """The group key of every item, and the distinct keys in their seeded shuffled order (rule step 1)."""
    keys = [group(item) for item in items]
    distinct = list(dict.fromkeys(keys))
    if sort_groups:
        distinct.sort()
    random.Random(seed).shuffle(distinct)
    return keys, distinct


def _check_fraction(name: str, fraction: float) -> None:
    if not 0 <= fraction < 1:
        raise DataError(f"{name} fraction must be in [0, 1), got {fraction}")


def _n_held_out(fraction: float, n_groups: int, n_left: int, what: str, side: str) -> int:
    """Groups that a split of ``fraction`` takes out of ``n_groups``, leaving at least one of ``n_left`` (step 2)."""
    if fraction == 0:
        return 0
    if n_left < 2:
        raise DataError(f"{n_left} {what}: a train/{side} split needs at least 2")
    return min(n_left - 1, max(1, round(fraction * n_groups)))


def _pick(items: Sequence[T], keys: list, order: list, chosen: set, keep_order: bool) -> list[T]:
    """The items whose group is in ``chosen``: in input order, or in the shuffled order of their groups."""
    if keep_order:
        return [it for it, k in zip(items, keys) if k in chosen]
    by_group: dict = {}
    for it, k in zip(items, keys):
        if k in chosen:
            by_group.setdefault(k, []).append(it)
    return [it for k in order if k in by_group for it in by_group[k]]


def split_by_group(
    items: Sequence[T],
    test_fraction: float,
    seed: int | str,
    group: Callable[[T], Hashable] = _identity,
    *,
    sort_groups: bool = False,
    keep_order: bool = False,
    what: str = "group(s)",
) -> tuple[list[T], list[T]]:
    """Split items into train and test by group with a seeded shuffle (the rule of the module docstring).

    Args:
        items: any sequence; items with the same ``group(item)`` land on the same side.
        test_fraction: fraction of the *groups* held out for testing, in [0, 1).
        seed: seeds ``random.Random`` (an int, or a str such as ``"0:category n01443537"``); the same items,
            fraction and seed give the same split.
        group: the group key of an item (hashable; sortable if ``sort_groups``); default: the item itself.
        sort_groups: shuffle the sorted keys instead of the keys in order of first appearance (a split then
            independent of the input order).
        keep_order: return each side in input order; default: in the shuffled order of the groups (the items of a
            group in input order).
        what: the groups' name in the error message, e.g. ``"source frame(s)"``.

    Returns:
        ``(train, test)`` lists; test holds ``round(test_fraction * n_groups)`` groups, at least 1 when
        ``test_fraction > 0``, at most ``n_groups - 1``; every item is on exactly one side.

    Raises:
        DataError: ``test_fraction`` outside [0, 1), or fewer than 2 groups with ``test_fraction > 0``.

    Example:
        >>> split_by_group(list(range(10)), 0.3, seed=0)
        ([5, 3, 4, 2, 0, 9, 6], [7, 8, 1])
        >>> split_by_group(list(range(10)), 0.3, seed=0, keep_order=True)
        ([0, 2, 3, 4, 5, 6, 9], [1, 7, 8])
        >>> split_by_group(["a1", "a2", "b1", "c1", "d1"], 0.25, seed=2, group=lambda s: s[0])  # a1, a2 together
        (['c1', 'd1', 'a1', 'a2'], ['b1'])
        >>> split_by_group([1], 0.2, seed=0)
        Traceback (most recent call last):
        ...
        rawvision.data.errors.DataError: 1 group(s): a train/test split needs at least 2
    """
    _check_fraction("test", test_fraction)
    keys, order = _shuffled_groups(items, seed, group, sort_groups)
    n_test = _n_held_out(test_fraction, len(order), len(order), what, "test")
    test = set(order[:n_test])
    train = set(order[n_test:])
    return _pick(items, keys, order, train, keep_order), _pick(items, keys, order, test, keep_order)


def split_train_val_test(
    items: Sequence[T],
    test_fraction: float,
    val_fraction: float,
    seed: int | str,
    group: Callable[[T], Hashable] = _identity,
    *,
    sort_groups: bool = False,
    keep_order: bool = False,
    what: str = "group(s)",
) -> tuple[list[T], list[T], list[T]]:
    """Split items into train, validation and test by group; the test split is exactly :func:`split_by_group`'s.

    The groups are shuffled as in :func:`split_by_group`; test takes the first ``n_test`` of them (the same
    groups as :func:`split_by_group` with these arguments), validation the next ``n_val =
    round(val_fraction * n_groups)`` (at least 1 when ``val_fraction > 0``, at most the groups left minus one),
    train the rest. Validation is thus carved out of :func:`split_by_group`'s training part: adding or resizing
    it never changes the test set, and ``train + val`` holds the same groups as :func:`split_by_group`'s train.

    Args:
        items, test_fraction, seed, group, sort_groups, keep_order, what: as :func:`split_by_group`.
        val_fraction: fraction of *all* groups held out for validation, in [0, 1);
            ``test_fraction + val_fraction < 1``.

    Returns:
        ``(train, val, test)`` lists, disjoint by group, each non-empty where its fraction is > 0 (train always).

    Raises:
        DataError: a fraction outside [0, 1), ``test_fraction + val_fraction >= 1``, or too few groups (2 for one
            held-out split, 3 for both).

    Example:
        >>> split_train_val_test(list(range(10)), 0.3, 0.2, seed=0)
        ([4, 2, 0, 9, 6], [5, 3], [7, 8, 1])
        >>> split_train_val_test(list(range(10)), 0.3, 0.0, seed=0)[2] == split_by_group(list(range(10)), 0.3, 0)[1]
        True
    """
    _check_fraction("test", test_fraction)
    _check_fraction("validation", val_fraction)
    if test_fraction + val_fraction >= 1:
        raise DataError(f"test fraction {test_fraction} + validation fraction {val_fraction} must be < 1")
    keys, order = _shuffled_groups(items, seed, group, sort_groups)
    n = len(order)
    n_test = _n_held_out(test_fraction, n, n, what, "test")
    n_val = _n_held_out(val_fraction, n, n - n_test, what, "validation")
    test, val, train = set(order[:n_test]), set(order[n_test:n_test + n_val]), set(order[n_test + n_val:])
    return tuple(_pick(items, keys, order, s, keep_order) for s in (train, val, test))  # type: ignore[return-value]
