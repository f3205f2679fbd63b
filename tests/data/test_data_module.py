"""Datasets from user code: ``package.module:function``."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from sweeplab.data import load_dataset
from sweeplab.errors import DataError

WriteModule = Callable[[str, str], str]

TUPLE = """
import numpy as np

def make():
    rng = np.random.default_rng(0)
    return rng.normal(size=(90, 5)), np.array(["no", "yes", "maybe"] * 30)
"""

DICT = """
import numpy as np
import torch

class Loaders:
    @staticmethod
    def make():
        x = torch.arange(120 * 3, dtype=torch.float64).reshape(120, 3)
        return {"X": x, "y": torch.arange(120) % 4, "classes": ["a", "b", "c", "d"]}
"""


def test_tuple_return(write_module: WriteModule) -> None:
    name = write_module("user_tuple_data", TUPLE)
    data = load_dataset(f"{name}:make")
    assert data.name == f"{name}:make"
    assert data.source == f"{name}:make"
    assert data.classes == ("maybe", "no", "yes")
    assert data.n_features == 5
    assert (data.n_train, data.n_val, data.n_test) == (63, 9, 18)
    assert data.fingerprint == load_dataset(f"{name}:make").fingerprint


def test_dict_return_with_classes_and_dotted_attribute(write_module: WriteModule) -> None:
    name = write_module("user_dict_data", DICT)
    data = load_dataset(f"{name}:Loaders.make", scale="none")
    assert data.classes == ("a", "b", "c", "d")
    assert data.x_train.dtype == torch.float32
    assert set(data.y_test.tolist()) == {0, 1, 2, 3}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "def make():\n    return 3\n",
            r"must return \(X, y\) or a dict with keys 'x' and 'y', but got int",
        ),
        ("def make():\n    return {'x': [[1.0]]}\n", r"but got a dict with keys \['x'\]"),
        (
            "def make():\n    return [1, 2, 3], [0, 1, 0]\n",
            r"X returned by .* must be 2-D \(samples, features\), but got shape \(3,\)",
        ),
        (
            "def make():\n    return [[1.0], [2.0]], [[0], [1]]\n",
            r"y returned by .* must be 1-D, but got shape \(2, 1\)",
        ),
        (
            "def make():\n    return [[1.0], [2.0]], [0, 1, 1]\n",
            r"must have one label per row of X, but got 3 labels for 2 rows",
        ),
        (
            "def make():\n    return [['a'], ['b']], [0, 1]\n",
            r"X returned by .* must be numeric, but got dtype <U1",
        ),
        (
            "def make():\n    return [[1.0], [float('nan')]], [0, 1]\n",
            r"X returned by .* must be finite, but got 1 NaN/inf value\(s\)",
        ),
        (
            "def make():\n    return [[1.0], [2.0]], [0, 0]\n",
            r"y returned by .* must have at least 2 classes, but got 1 \(0\)",
        ),
        (
            "def make():\n"
            "    return {'x': [[1.0]] * 9, 'y': [0, 1, 5] * 3, 'classes': ['a', 'b']}\n",
            r"must be in 0\.\.1 to index 'classes', but got 5",
        ),
        (
            "def make():\n    raise RuntimeError('no data today')\n",
            r"raised RuntimeError: no data today",
        ),
        ("make = 5\n", r"must name a function, but got int"),
        ("def other():\n    pass\n", r"has no attribute 'make'"),
    ],
)
def test_bad_functions(write_module: WriteModule, body: str, message: str) -> None:
    name = write_module("user_bad_data", body)
    with pytest.raises(DataError, match=message) as info:
        load_dataset(f"{name}:make")
    assert "\n" not in str(info.value)
    assert f"{name}:make" in str(info.value)


def test_module_not_found() -> None:
    with pytest.raises(
        DataError,
        match=r"^data\.dataset 'no_such_pkg\.mod:load' must name an importable module, "
        r"but importing 'no_such_pkg\.mod' failed: ModuleNotFoundError",
    ):
        load_dataset("no_such_pkg.mod:load")


def test_module_that_fails_to_import(write_module: WriteModule) -> None:
    name = write_module("user_broken_module", "raise ValueError('boom')\n")
    with pytest.raises(DataError, match="ValueError: boom"):
        load_dataset(f"{name}:make")


@pytest.mark.parametrize("spec", [":make", "module:", ":"])
def test_malformed_spec(spec: str) -> None:
    with pytest.raises(DataError, match=r"must be 'package\.module:function'"):
        load_dataset(spec)
