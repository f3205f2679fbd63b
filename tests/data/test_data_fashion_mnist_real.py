"""The real Fashion-MNIST from Debian's dataset-fashion-mnist package.

Not skipped when the folder is missing: ``make test`` installs the package
first, so a missing folder is a failure worth seeing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from sweeplab.data import _idx, load_dataset
from sweeplab.errors import DataError

DEBIAN = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def debian(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(_idx, "FASHION_MNIST_DEBIAN_DIR", DEBIAN)
    return DEBIAN


def test_real_fashion_mnist(debian: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    data = load_dataset("fashion_mnist", max_samples=2000, cache_dir=cache, seed=1)
    assert data.source == str(debian)
    assert data.n_features == 784
    assert data.n_classes == 10
    assert data.classes[0] == "T-shirt/top"
    assert (data.n_train, data.n_val, data.n_test) == (1750, 250, 400)
    assert float(data.x_train.min()) == 0.0
    assert float(data.x_train.max()) == 1.0
    for y in (data.y_train, data.y_val, data.y_test):
        assert np.bincount(y.numpy(), minlength=10).min() > 0
    cached = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (cache / "fashion_mnist").iterdir()
    }
    assert cached == _idx.SHA256["fashion_mnist"]
    assert (cache / "fashion_mnist" / "train-images-idx3-ubyte").stat().st_size == 47_040_016

    again = load_dataset("fashion_mnist", max_samples=2000, cache_dir=cache, seed=1)
    assert again.source == f"cache:{cache / 'fashion_mnist'}"
    assert again.fingerprint == data.fingerprint


def test_real_fashion_mnist_full_split_sizes(debian: Path, tmp_path: Path) -> None:
    data = load_dataset("fashion_mnist", path=debian, scale="none")
    assert (data.n_train, data.n_val, data.n_test) == (52_500, 7_500, 10_000)
    assert np.bincount(data.y_test.numpy()).tolist() == [1000] * 10
    assert float(data.x_train.max()) == 255.0


def test_real_fashion_mnist_checksum_is_enforced(
    debian: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = dict(_idx.SHA256["fashion_mnist"])
    table["t10k-labels-idx1-ubyte"] = "0" * 64
    monkeypatch.setitem(_idx.SHA256, "fashion_mnist", table)
    with pytest.raises(
        DataError, match=f"t10k-labels-idx1-ubyte .*must be {'0' * 64}, but got 0402a96d"
    ):
        load_dataset("fashion_mnist", path=debian)
