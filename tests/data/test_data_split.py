"""Split validation, stratification, subsampling, determinism and fingerprints."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from sweeplab.data import Dataset, load_dataset
from sweeplab.data._split import (
    check_splittable,
    split_indices,
    split_sizes,
    stratified_subsample,
    validate_split,
)
from sweeplab.errors import DataError

IRIS_FINGERPRINT = "69568b64ec9ff6ae469525a702b3b4bfae391352225763f880a596a913d975cf"


def _proportions(y: torch.Tensor, n_classes: int) -> np.ndarray:
    return np.bincount(y.numpy(), minlength=n_classes) / len(y)


def test_default_split_sizes_iris() -> None:
    data = load_dataset("iris")
    assert (data.n_train, data.n_val, data.n_test) == (105, 15, 30)
    for y in (data.y_train, data.y_val, data.y_test):
        counts = np.bincount(y.numpy(), minlength=3)
        assert counts.min() == counts.max()  # iris is balanced, so exactly stratified


def test_stratification_keeps_class_proportions() -> None:
    data = load_dataset("breast_cancer", split=(0.6, 0.2, 0.2), seed=3)
    overall = np.array([212, 357]) / 569
    for y in (data.y_train, data.y_val, data.y_test):
        assert np.abs(_proportions(y, 2) - overall).max() < 0.01


def test_splits_are_disjoint_and_cover_the_data() -> None:
    data = load_dataset("digits", scale="none")
    rows = torch.cat([data.x_train, data.x_val, data.x_test]).numpy()
    labels = torch.cat([data.y_train, data.y_val, data.y_test]).numpy()
    bunch = load_digits()
    original = np.column_stack([bunch.data, bunch.target]).astype(np.float32)
    split = np.column_stack([rows, labels]).astype(np.float32)

    def by_rows(a: np.ndarray) -> np.ndarray:
        return a[np.lexsort(a.T[::-1])]

    assert np.array_equal(by_rows(split), by_rows(original))


@pytest.mark.parametrize(
    "split",
    [
        (0.7, 0.3),
        (0.7, 0.1, 0.1, 0.1),
        (0.7, 0.2, 0.2),
        (0.8, 0.2, 0.0),
        (0.8, 0.0, 0.2),
        (1.2, -0.1, -0.1),
        (0.7, 0.1, float("nan")),
        (0.7, 0.1, "0.2"),
        (True, 0.0, 0.0),
        "0.7,0.1,0.2",
        None,
    ],
)
def test_invalid_split(split: object) -> None:
    with pytest.raises(
        DataError, match=r"^data\.split must be three fractions > 0 that sum to 1, but got"
    ):
        load_dataset("iris", split=split)  # type: ignore[arg-type]


def test_split_message_shows_the_value() -> None:
    with pytest.raises(DataError) as info:
        load_dataset("iris", split=[0.5, 0.5, 0.1])
    assert str(info.value).endswith("but got [0.5, 0.5, 0.1]")


def test_zero_test_fraction_only_with_official_test_set() -> None:
    assert validate_split((0.875, 0.125, 0.0), has_test_set=True) == (0.875, 0.125, 0.0)
    with pytest.raises(DataError):
        validate_split((0.875, 0.125, 0.0), has_test_set=False)
    assert validate_split([0.7, 0.1, 0.2 + 1e-7], has_test_set=False)[2] == pytest.approx(0.2)
    assert validate_split(np.array([0.6, 0.2, 0.2], dtype=np.float32).tolist(), has_test_set=False)
    assert validate_split((np.float32(0.5), np.float64(0.25), 0.25), has_test_set=False)


def test_split_too_small_names_sizes() -> None:
    with pytest.raises(DataError, match="sizes 146/2/2 of 150 samples") as info:
        load_dataset("iris", split=(0.98, 0.01, 0.01))
    assert "at least 3 samples (one per class)" in str(info.value)


def test_class_with_too_few_samples() -> None:
    y = np.array([0] * 20 + [1] * 2)
    with pytest.raises(DataError, match=r"class 'b' of dataset 'x' must have at least 3 samples"):
        check_splittable(y, [14, 4, 4], ("a", "b"), dataset="x")


def test_split_sizes() -> None:
    assert split_sizes(150, (0.7, 0.1, 0.2)) == [105, 15, 30]
    assert split_sizes(60000, (0.7, 0.1)) == [52500, 7500]
    assert sum(split_sizes(1797, (0.5, 0.25, 0.25))) == 1797


def test_every_split_gets_every_class_even_when_rare() -> None:
    y = np.array([0] * 200 + [1] * 200 + [2] * 3, dtype=np.int64)
    for seed in range(20):
        parts = split_indices(y, split_sizes(len(y), (0.8, 0.1, 0.1)), seed=seed)
        assert [len(p) for p in parts] == split_sizes(len(y), (0.8, 0.1, 0.1))
        assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(len(y)))
        for part in parts:
            assert set(y[part].tolist()) == {0, 1, 2}


def test_split_survives_a_class_left_with_one_sample() -> None:
    y = np.array([0] * 50 + [1] * 50 + [2] * 3, dtype=np.int64)
    parts = split_indices(y, [10, 10, 83], seed=1)
    for part in parts:
        assert set(y[part].tolist()) == {0, 1, 2}


def test_stratified_subsample() -> None:
    y = np.array([0] * 900 + [1] * 90 + [2] * 10, dtype=np.int64)
    keep = stratified_subsample(y, 100, seed=0, min_per_class=3, what="max_samples")
    assert len(keep) == 100
    assert np.all(np.diff(keep) > 0)
    assert np.bincount(y[keep]).tolist() == [88, 9, 3]
    assert np.array_equal(keep, stratified_subsample(y, 100, seed=0, min_per_class=3, what="m"))
    assert not np.array_equal(keep, stratified_subsample(y, 100, seed=1, min_per_class=3, what="m"))
    with pytest.raises(DataError, match="max_samples must be at least 9"):
        stratified_subsample(y, 8, seed=0, min_per_class=3, what="max_samples")


def test_max_samples() -> None:
    data = load_dataset("digits", max_samples=300)
    assert data.n_train + data.n_val + data.n_test == 300
    assert (data.n_train, data.n_val, data.n_test) == (210, 30, 60)
    for y in (data.y_train, data.y_val, data.y_test):
        assert set(y.tolist()) == set(range(10))
    assert load_dataset("iris", max_samples=10_000).n_train == 105


@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "100"])
def test_invalid_max_samples(bad: object) -> None:
    with pytest.raises(DataError, match=r"data\.max_samples must be a positive integer"):
        load_dataset("iris", max_samples=bad)  # type: ignore[arg-type]


def test_max_samples_too_small_for_classes() -> None:
    with pytest.raises(DataError, match=r"data\.max_samples for 'digits' must be at least 30"):
        load_dataset("digits", max_samples=20)


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5, None, True])
def test_invalid_seed(bad: object) -> None:
    with pytest.raises(DataError, match="seed must be an integer"):
        load_dataset("iris", seed=bad)  # type: ignore[arg-type]


def _tensors(data: object) -> list[torch.Tensor]:
    names = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
    return [getattr(data, n) for n in names]


def test_deterministic() -> None:
    first, second = load_dataset("wine", seed=7), load_dataset("wine", seed=7)
    assert first.fingerprint == second.fingerprint
    for a, b in zip(_tensors(first), _tensors(second), strict=True):
        assert torch.equal(a, b)


def test_fingerprint_is_stable_across_runs() -> None:
    # A change here means fingerprints of earlier studies no longer match.
    assert load_dataset("iris").fingerprint == IRIS_FINGERPRINT


@pytest.mark.parametrize(
    "change",
    [
        lambda: load_dataset("iris", seed=1),
        lambda: load_dataset("iris", split=(0.6, 0.2, 0.2)),
        lambda: load_dataset("iris", scale="standard"),
        lambda: load_dataset("iris", max_samples=120),
        lambda: load_dataset("wine"),
    ],
)
def test_fingerprint_changes_with_arguments(change: Callable[[], Dataset]) -> None:
    assert change().fingerprint != load_dataset("iris").fingerprint


def test_seed_changes_the_split() -> None:
    a, b = load_dataset("iris", seed=0), load_dataset("iris", seed=1)
    assert not torch.equal(a.x_test, b.x_test)
