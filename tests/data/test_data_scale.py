"""Scaling is fitted on train only and never produces NaN."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from sweeplab.data import load_dataset
from sweeplab.data._scale import scale_features
from sweeplab.errors import DataError


def test_minmax_fits_on_train_only() -> None:
    raw = load_dataset("wine", scale="none", seed=2)
    data = load_dataset("wine", scale="minmax", seed=2)
    assert float(data.x_train.min()) == 0.0
    assert float(data.x_train.max()) == 1.0
    assert torch.equal(data.x_train.amin(dim=0), torch.zeros(13))
    assert torch.equal(data.x_train.amax(dim=0), torch.ones(13))
    low = raw.x_train.amin(dim=0)
    spread = raw.x_train.amax(dim=0) - low
    for scaled, unscaled in ((data.x_val, raw.x_val), (data.x_test, raw.x_test)):
        torch.testing.assert_close(scaled, (unscaled - low) / spread)
    outside = torch.cat([data.x_val, data.x_test])
    assert bool(((outside < 0) | (outside > 1)).any()), "val/test are not refitted"


def test_standard_fits_on_train_only() -> None:
    raw = load_dataset("breast_cancer", scale="none")
    data = load_dataset("breast_cancer", scale="standard")
    train = data.x_train.double()
    torch.testing.assert_close(
        train.mean(dim=0), torch.zeros(30, dtype=torch.float64), atol=1e-5, rtol=0
    )
    torch.testing.assert_close(
        train.std(dim=0, unbiased=False), torch.ones(30, dtype=torch.float64), atol=1e-4, rtol=0
    )
    mean = raw.x_train.double().mean(dim=0)
    std = raw.x_train.double().std(dim=0, unbiased=False)
    expected = ((raw.x_test.double() - mean) / std).float()
    torch.testing.assert_close(data.x_test, expected, atol=1e-5, rtol=1e-5)
    assert abs(float(data.x_test.double().mean())) > 1e-4  # not refitted on test


def test_none_keeps_values() -> None:
    data = load_dataset("iris", scale="none")
    assert data.x_train.dtype == torch.float32
    assert float(data.x_train.max()) == pytest.approx(7.9)


@pytest.mark.parametrize("scale", ["minmax", "standard", "none"])
def test_constant_feature_gives_no_nan(scale: str, write_module: Callable[[str, str], str]) -> None:
    name = write_module(
        "constant_feature",
        "import numpy as np\n"
        "def load():\n"
        "    rng = np.random.default_rng(0)\n"
        "    x = np.column_stack([rng.normal(size=90), np.full(90, 5.0), np.zeros(90)])\n"
        "    return x, np.arange(90) % 3\n",
    )
    data = load_dataset(f"{name}:load", scale=scale)
    for x in (data.x_train, data.x_val, data.x_test):
        assert bool(torch.isfinite(x).all())
    if scale != "none":
        assert torch.equal(data.x_train[:, 1:], torch.zeros(data.n_train, 2))
        assert torch.equal(data.x_test[:, 1:], torch.zeros(data.n_test, 2))


def test_unknown_scale() -> None:
    with pytest.raises(
        DataError, match=r"^data\.scale must be one of 'minmax', 'standard', 'none', but got 'max'$"
    ):
        load_dataset("iris", scale="max")


def test_uint8_pixels_become_float32_in_unit_range() -> None:
    train = np.array([[0, 255], [128, 255]], dtype=np.uint8)
    test = np.array([[255, 0]], dtype=np.uint8)
    scaled_train, scaled_test = scale_features(train, [test], "minmax", dataset="px")
    assert scaled_train.dtype == np.float32
    assert scaled_train.tolist() == [[0.0, 0.0], [pytest.approx(128 / 128), 0.0]]
    assert scaled_test.tolist() == [[pytest.approx(255 / 128), -255.0]]


def test_float64_overflowing_float32_is_an_error() -> None:
    train = np.array([[1e300], [0.0]])
    with pytest.raises(DataError, match="must fit in float32"):
        scale_features(train, [], "minmax", dataset="big")


@pytest.mark.parametrize("scale", ["minmax", "standard"])
def test_dataset_keeps_its_scaler_for_raw_features(scale: str) -> None:
    raw = load_dataset("wine", scale="none", seed=4)
    data = load_dataset("wine", scale=scale, seed=4)
    assert raw.scale == "none"
    assert raw.scale_shift is None
    assert raw.scale_spread is None
    assert data.scale == scale
    assert data.scale_shift is not None
    assert data.scale_spread is not None
    assert data.scale_shift.dtype == torch.float32
    assert data.scale_shift.shape == (13,)
    assert data.fingerprint != raw.fingerprint
    for scaled, unscaled in ((data.x_train, raw.x_train), (data.x_test, raw.x_test)):
        assert torch.equal((unscaled - data.scale_shift) / data.scale_spread, scaled)
