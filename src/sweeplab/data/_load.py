"""``load_dataset``: load, subsample, split, scale and fingerprint a dataset."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch

from sweeplab.data._dataset import Dataset
from sweeplab.data._fingerprint import fingerprint
from sweeplab.data._registry import check_name, default_cache_dir, has_test_set, load_raw
from sweeplab.data._scale import fit_scale, validate_scale
from sweeplab.data._split import (
    check_splittable,
    split_indices,
    split_sizes,
    stratified_subsample,
    validate_split,
)
from sweeplab.errors import DataError

__all__ = ["load_dataset"]

logger = logging.getLogger(__name__)

_MAX_SEED = 2**32 - 1

Labels = npt.NDArray[np.int64]


def load_dataset(
    dataset: str,
    *,
    split: Sequence[float] = (0.7, 0.1, 0.2),
    scale: str = "minmax",
    seed: int = 0,
    path: str | os.PathLike[str] | None = None,
    target: str | None = None,
    max_samples: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    scale_on: str = "train",
) -> Dataset:
    """Load ``dataset``, split it stratified by ``split`` and scale it on train.

    ``dataset`` is a name in :data:`DATASETS` or ``"package.module:function"``.
    ``path`` is the csv/parquet file, or for fashion_mnist/mnist a folder of IDX
    files that is then the only source; ``target`` is the label column of a
    csv/parquet file. ``max_samples`` keeps a stratified subsample of that many
    samples before splitting. The same arguments always give identical tensors.

    fashion_mnist and mnist have an official test set: it is the test split,
    the official training set is split into train/val in the proportion
    ``split[0]:split[1]``, and ``split[2]`` is ignored (it may be 0). With
    ``max_samples`` the test set is a stratified subsample of
    ``min(10000, max(max_samples // 5, 10 * n_classes))`` samples.

    ``scale_on = "train+val"`` fits the scaler on train and val together, for
    cross-validation, where every row of the pool trains some fold.

    Raises DataError for any problem with the arguments or the data.
    """
    name = check_name(dataset)
    official_test = has_test_set(name)
    fractions = validate_split(split, has_test_set=official_test)
    scaler = validate_scale(scale)
    seed = _check_seed(seed)
    max_samples = _check_max_samples(max_samples)
    raw = load_raw(name, path=path, target=target, cache_dir=default_cache_dir(cache_dir))
    if scale_on not in ("train", "train+val"):
        raise DataError(f"scale_on must be 'train' or 'train+val', but got {scale_on!r}")
    params: dict[str, object] = {
        "split": list(fractions),
        "scale": scaler,
        "seed": seed,
        "max_samples": max_samples,
    }
    if scale_on != "train":
        params["scale_on"] = scale_on
    official = (
        (raw.x_test, raw.y_test) if raw.x_test is not None and raw.y_test is not None else None
    )
    digest = fingerprint([raw.x, raw.y, *(official or ())], params)

    pool_fractions = fractions if official is None else fractions[:2]
    pool = _subsample(raw.y, max_samples, seed=seed, name=name, parts=len(pool_fractions))
    x_pool, y_pool = raw.x[pool], raw.y[pool]
    sizes = split_sizes(len(y_pool), pool_fractions)
    check_splittable(y_pool, sizes, raw.classes, dataset=name)
    parts = split_indices(y_pool, sizes, seed=seed)
    xs = [x_pool[p] for p in parts]
    ys = [y_pool[p] for p in parts]
    if official is not None:
        keep = _official_test_rows(official[1], max_samples, seed=seed, n_classes=len(raw.classes))
        xs.append(official[0][keep])
        ys.append(official[1][keep])

    fit = xs[0] if scale_on == "train" else np.concatenate(xs[:2])
    scaled, stats = fit_scale(fit, xs, scaler, dataset=name)
    x_train, x_val, x_test = (torch.from_numpy(x) for x in scaled[1:])
    y_train, y_val, y_test = (torch.from_numpy(np.ascontiguousarray(y, np.int64)) for y in ys)
    result = Dataset(
        name=name,
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        x_test=x_test,
        y_test=y_test,
        classes=raw.classes,
        fingerprint=digest,
        source=raw.source,
        scale=scaler,
        scale_shift=None if stats is None else torch.from_numpy(stats[0]),
        scale_spread=None if stats is None else torch.from_numpy(stats[1]),
    )
    logger.info("Loaded %r", result)
    return result


def _subsample(y: Labels, max_samples: int | None, *, seed: int, name: str, parts: int) -> Labels:
    if max_samples is None or max_samples >= len(y):
        return np.arange(len(y), dtype=np.int64)
    return stratified_subsample(
        y, max_samples, seed=seed, min_per_class=parts, what=f"data.max_samples for {name!r}"
    )


def _official_test_rows(
    y_test: Labels, max_samples: int | None, *, seed: int, n_classes: int
) -> Labels:
    """All official test rows, or with ``max_samples`` a stratified subsample of them."""
    if max_samples is None:
        return np.arange(len(y_test), dtype=np.int64)
    size = min(10_000, max(max_samples // 5, 10 * n_classes))
    return stratified_subsample(
        y_test, size, seed=seed, min_per_class=1, what="the official test subsample"
    )


def _check_seed(seed: object) -> int:
    if (
        isinstance(seed, bool)
        or not isinstance(seed, (int, np.integer))
        or not (0 <= int(seed) <= _MAX_SEED)
    ):
        raise DataError(f"seed must be an integer in [0, {_MAX_SEED}], but got {seed!r}")
    return int(seed)


def _check_max_samples(max_samples: object) -> int | None:
    if max_samples is None:
        return None
    if (
        isinstance(max_samples, bool)
        or not isinstance(max_samples, (int, np.integer))
        or (int(max_samples) < 1)
    ):
        raise DataError(f"data.max_samples must be a positive integer, but got {max_samples!r}")
    return int(max_samples)
