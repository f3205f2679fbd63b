"""The scikit-learn sets, the public interface and dataset-name errors."""

from __future__ import annotations

import logging

import pytest
import torch

import sweeplab.data
from sweeplab.data import DATASETS, Dataset, load_dataset
from sweeplab.errors import DataError


def test_public_interface() -> None:
    assert set(sweeplab.data.__all__) == {"Dataset", "load_dataset", "DATASETS", "fold_indices"}
    assert DATASETS == (
        "iris",
        "wine",
        "breast_cancer",
        "digits",
        "fashion_mnist",
        "mnist",
        "csv",
        "parquet",
    )


@pytest.mark.parametrize(
    ("name", "n", "n_features", "classes"),
    [
        ("iris", 150, 4, ("setosa", "versicolor", "virginica")),
        ("wine", 178, 13, ("class_0", "class_1", "class_2")),
        ("breast_cancer", 569, 30, ("malignant", "benign")),
        ("digits", 1797, 64, tuple(str(d) for d in range(10))),
    ],
)
def test_sklearn_sets(name: str, n: int, n_features: int, classes: tuple[str, ...]) -> None:
    data = load_dataset(name)
    assert isinstance(data, Dataset)
    assert data.name == name
    assert data.source == f"sklearn:{name}"
    assert data.classes == classes
    assert data.n_classes == len(classes)
    assert data.n_features == n_features
    assert data.n_train + data.n_val + data.n_test == n
    assert data.n_test == round(n * 0.2)
    assert data.n_val == round(n * 0.1)
    for x, y in (
        (data.x_train, data.y_train),
        (data.x_val, data.y_val),
        (data.x_test, data.y_test),
    ):
        assert x.dtype == torch.float32
        assert y.dtype == torch.int64
        assert x.shape == (y.shape[0], n_features)
        assert x.is_contiguous()
        assert set(y.tolist()) == set(range(len(classes)))
    assert len(data.fingerprint) == 64
    int(data.fingerprint, 16)


def test_repr_is_short() -> None:
    text = repr(load_dataset("iris"))
    assert text.startswith("Dataset(name='iris', n_train=105, n_val=15, n_test=30")
    assert "tensor" not in text


def test_dataset_is_frozen() -> None:
    data = load_dataset("iris")
    with pytest.raises(AttributeError):
        data.name = "other"  # type: ignore[misc]


def test_unknown_name_suggests_closest() -> None:
    with pytest.raises(DataError, match=r"data\.dataset must be one of iris, wine") as info:
        load_dataset("irsi")
    assert "did you mean 'iris'?" in str(info.value)
    assert "but got 'irsi'" in str(info.value)


def test_fashion_mnist_with_dash_suggests_underscore() -> None:
    with pytest.raises(DataError, match="did you mean 'fashion_mnist'"):
        load_dataset("Fashion-MNIST")


@pytest.mark.parametrize("bad", ["", "   ", None, 3])
def test_dataset_must_be_a_string(bad: object) -> None:
    with pytest.raises(DataError, match=r"data\.dataset must be a non-empty string"):
        load_dataset(bad)  # type: ignore[arg-type]


def test_unused_path_and_target_are_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sweeplab.data"):
        load_dataset("iris", path="/some/file.csv", target="label")
    assert "Ignoring data.path '/some/file.csv'" in caplog.text
    assert "Ignoring data.target 'label'" in caplog.text
