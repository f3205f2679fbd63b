"""The small classification sets bundled with scikit-learn (no download needed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn import datasets

from sweeplab.data._raw import RawData

__all__ = ["SKLEARN_DATASETS", "load_sklearn"]

_LOADERS: dict[str, Callable[[], Any]] = {
    "iris": datasets.load_iris,
    "wine": datasets.load_wine,
    "breast_cancer": datasets.load_breast_cancer,
    "digits": datasets.load_digits,
}

SKLEARN_DATASETS = tuple(_LOADERS)


def load_sklearn(name: str) -> RawData:
    """Load scikit-learn's ``name`` set; class names come from ``target_names``."""
    bunch = _LOADERS[name]()
    return RawData(
        x=np.ascontiguousarray(bunch.data, dtype=np.float64),
        y=np.asarray(bunch.target, dtype=np.int64),
        classes=tuple(str(c) for c in bunch.target_names),
        source=f"sklearn:{name}",
    )
