"""Validated, seeded, stratified subsampling and train/val/test splitting."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from sweeplab.errors import DataError

__all__ = [
    "fold_indices",
    "split_indices",
    "split_sizes",
    "stratified_subsample",
    "validate_split",
]

_NAMES = ("train", "val", "test")

Indices = npt.NDArray[np.int64]


def validate_split(split: object, *, has_test_set: bool) -> tuple[float, float, float]:
    """Return ``split`` as three fractions summing to 1.

    The test fraction may be 0 only for a dataset with an official test set.
    """
    shown = list(split) if isinstance(split, (list, tuple)) else split
    message = f"data.split must be three fractions > 0 that sum to 1, but got {shown!r}"
    if not isinstance(split, (list, tuple)) or len(split) != 3:
        raise DataError(message)
    fractions: list[float] = []
    for value in split:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise DataError(message)
        fractions.append(float(value))
    train, val, test = fractions
    if not all(math.isfinite(v) for v in fractions) or train <= 0 or val <= 0:
        raise DataError(message)
    if test < 0 or (test == 0 and not has_test_set):
        raise DataError(message)
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise DataError(message)
    return train, val, test


def split_sizes(n: int, fractions: Sequence[float]) -> list[int]:
    """Sizes of the splits of ``n`` samples; the first split takes the rounding slack.

    Two fractions split into two parts in their proportion (train:val), three
    into train/val/test.
    """
    total = sum(fractions)
    rest = [math.floor(n * f / total + 0.5) for f in fractions[1:]]
    return [n - sum(rest), *rest]


def check_splittable(
    y: Indices, sizes: Sequence[int], classes: Sequence[str], *, dataset: str
) -> None:
    """Raise a DataError unless every split can hold every class."""
    names = _NAMES[: len(sizes)]
    counts = np.bincount(y, minlength=len(classes))
    for label, count in enumerate(counts.tolist()):
        if count < len(sizes):
            raise DataError(
                f"class {classes[label]!r} of dataset {dataset!r} must have at least "
                f"{len(sizes)} samples (one for each of {', '.join(names)}), but got {count} "
                f"({len(classes)} classes in {len(y)} samples)"
            )
    if min(sizes) < len(classes):
        shown = "/".join(names)
        raise DataError(
            f"every split of dataset {dataset!r} must have at least {len(classes)} samples "
            f"(one per class) for stratification, but data.split gives {shown} sizes "
            f"{'/'.join(str(s) for s in sizes)} of {len(y)} samples; "
            "use larger fractions or more data"
        )


def split_indices(y: Indices, sizes: Sequence[int], *, seed: int) -> list[Indices]:
    """Stratified, seeded split of ``range(len(y))`` into parts of ``sizes``.

    Splits as scikit-learn's ``train_test_split(stratify=..., random_state=seed)``
    does, bit for bit (the last part is split off first; :func:`_train_test_split`),
    then swaps single samples so that every part holds every class, which
    ``check_splittable`` guarantees is possible.
    """
    parts: list[Indices] = []
    rest = np.arange(len(y), dtype=np.int64)
    for size in reversed(sizes[1:]):
        rest, part = _train_test_split(rest, size, _strata(y[rest]), seed)
        parts.insert(0, np.asarray(part, dtype=np.int64))
    parts.insert(0, np.asarray(rest, dtype=np.int64))
    _cover_every_class(parts, y)
    return parts


def _approximate_mode(
    counts: npt.NDArray[np.int64], draws: int, rng: np.random.RandomState
) -> npt.NDArray[np.int64]:
    """scikit-learn's ``_approximate_mode``: per-class draws, ties broken by ``rng``."""
    continuous = counts / counts.sum() * draws
    floored = np.floor(continuous)
    need = int(draws - floored.sum())
    if need > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (inds,) = np.where(remainder == value)
            add = min(len(inds), need)
            floored[rng.choice(inds, size=add, replace=False)] += 1
            need -= add
            if need == 0:
                break
    return np.asarray(floored, dtype=np.int64)


def _train_test_split(
    rows: Indices, n_test: int, strata: Indices, seed: int
) -> tuple[Indices, Indices]:
    """``train_test_split(rows, test_size=n_test, stratify=strata, random_state=seed)``.

    The algorithm of scikit-learn's ``StratifiedShuffleSplit`` (stable since
    0.24; ``tests/data/test_split_exact.py`` checks it against scikit-learn on
    thousands of cases), written out so that loading a built-in dataset does
    not import scikit-learn and scipy (1.5-3 s of a cold ``sweeplab run``).
    """
    n_train = len(rows) - n_test
    _, inverse = np.unique(strata, return_inverse=True)
    counts = np.bincount(inverse)
    if counts.min() < 2 or n_train < len(counts) or n_test < len(counts):
        raise DataError(
            f"a stratified split of {len(rows)} samples in {len(counts)} classes into "
            f"{n_train} and {n_test} must leave every class 2 samples and each part one "
            "sample per class, but it cannot"
        )
    by_class = np.split(np.argsort(inverse, kind="mergesort"), np.cumsum(counts)[:-1])
    rng = np.random.RandomState(seed)
    n_i = _approximate_mode(counts, n_train, rng)
    t_i = _approximate_mode(counts - n_i, n_test, rng)
    train: list[int] = []
    test: list[int] = []
    for i in range(len(counts)):
        shuffled = by_class[i].take(rng.permutation(counts[i]), mode="clip")
        train.extend(shuffled[: n_i[i]])
        test.extend(shuffled[n_i[i] : n_i[i] + t_i[i]])
    return rows[rng.permutation(train)], rows[rng.permutation(test)]


def _strata(y: Indices) -> Indices:
    """Labels for stratification, with single-sample classes merged into the largest."""
    counts = np.bincount(y)
    lonely = np.flatnonzero(counts == 1)
    if lonely.size == 0:
        return y
    return np.where(np.isin(y, lonely), int(np.argmax(counts)), y)


def _cover_every_class(parts: list[Indices], y: Indices) -> None:
    n_classes = int(y.max()) + 1
    for _ in range(n_classes * len(parts)):
        counts = [np.bincount(y[p], minlength=n_classes) for p in parts]
        missing = [(s, c) for s in range(len(parts)) for c in range(n_classes) if counts[s][c] == 0]
        if not missing:
            return
        short, label = missing[0]
        donor = max((i for i in range(len(parts)) if i != short), key=lambda i: counts[i][label])
        spare = int(np.argmax(counts[short]))
        if counts[donor][label] < 2 or counts[short][spare] < 2:
            return
        at_donor = int(np.flatnonzero(y[parts[donor]] == label)[-1])
        at_short = int(np.flatnonzero(y[parts[short]] == spare)[-1])
        parts[donor][at_donor], parts[short][at_short] = (
            parts[short][at_short],
            parts[donor][at_donor],
        )


def stratified_subsample(
    y: Indices, size: int, *, seed: int, min_per_class: int, what: str
) -> Indices:
    """Sorted indices of a seeded, stratified subsample of ``size`` samples.

    Each class keeps its share (largest remainder) but at least ``min_per_class``
    samples where it has them, so the subsample can still be split; the samples
    that minimum costs come from the classes they shrink least, relatively.
    """
    n = len(y)
    if size >= n:
        return np.arange(n, dtype=np.int64)
    counts = np.bincount(y)
    floor = np.minimum(counts, min_per_class)
    if size < int(floor.sum()):
        raise DataError(
            f"{what} must be at least {int(floor.sum())} ({min_per_class} per class for "
            f"{len(counts)} classes), but got {size}"
        )
    quota = counts * (size / n)
    alloc = np.maximum(np.floor(quota).astype(np.int64), floor)
    labels = range(len(counts))
    while alloc.sum() < size:
        grow = max(
            (c for c in labels if alloc[c] < counts[c]),
            key=lambda c: (quota[c] - alloc[c], alloc[c]),
        )
        alloc[grow] += 1
    while alloc.sum() > size:
        shrink = max(
            (c for c in labels if alloc[c] > floor[c]),
            key=lambda c: ((alloc[c] - 1 - quota[c]) / quota[c], alloc[c]),
        )
        alloc[shrink] -= 1
    rng = np.random.RandomState(seed)
    chosen = [
        rng.permutation(np.flatnonzero(y == label))[:take]
        for label, take in enumerate(alloc.tolist())
    ]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def fold_indices(
    y: Indices, *, cv: int | None, repeats: int | None, val_fraction: float, seed: int
) -> list[tuple[Indices, Indices]]:
    """Seeded, stratified ``(train_rows, val_rows)`` of each fold of the pool ``y``.

    With ``cv = k``: ``repeats`` (default 1) times k-fold, reshuffled each
    time; without: ``repeats`` random splits holding out ``val_fraction``.
    """
    from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedShuffleSplit

    counts = np.bincount(y)
    smallest = int(counts[counts > 0].min())
    zeros = np.zeros(len(y))
    rng = seed % 2**32
    if cv is not None:
        if cv > smallest:
            raise DataError(
                f"data.cv must be at most the size of the smallest class in train+val "
                f"({smallest}), but got {cv}"
            )
        splitter: RepeatedStratifiedKFold | StratifiedShuffleSplit = RepeatedStratifiedKFold(
            n_splits=cv, n_repeats=repeats or 1, random_state=rng
        )
    else:
        if smallest < 2:
            raise DataError(
                "data.split_repeats needs at least 2 samples of every class in train+val, "
                f"but the smallest class has {smallest}"
            )
        n_val = max(round(val_fraction * len(y)), len(counts[counts > 0]))
        splitter = StratifiedShuffleSplit(n_splits=repeats or 1, test_size=n_val, random_state=rng)
    return [
        (np.sort(tr).astype(np.int64), np.sort(va).astype(np.int64))
        for tr, va in splitter.split(zeros, y)
    ]
