"""Raw, unsplit data as a loader returns it, and checks shared by loaders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from sweeplab.errors import DataError

__all__ = ["RawData", "as_features", "encode_labels", "one_line"]


@dataclass(frozen=True)
class RawData:
    """Features and encoded labels before splitting and scaling.

    ``x_test``/``y_test`` are set only for datasets with an official test set.
    """

    x: npt.NDArray[Any]
    y: npt.NDArray[np.int64]
    classes: tuple[str, ...]
    source: str
    x_test: npt.NDArray[Any] | None = None
    y_test: npt.NDArray[np.int64] | None = None


def as_features(x: object, *, what: str) -> npt.NDArray[np.float64]:
    """Return ``x`` as a finite 2-D float64 array, or raise a DataError about ``what``."""
    try:
        array = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{what} must be a 2-D numeric array, but got {one_line(exc)}") from exc
    if array.ndim != 2:
        raise DataError(
            f"{what} must be 2-D (samples, features), but got shape {tuple(array.shape)}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise DataError(
            f"{what} must have at least one sample and one feature, but got shape "
            f"{tuple(array.shape)}"
        )
    if array.dtype.kind not in "biufO":
        raise DataError(f"{what} must be numeric, but got dtype {array.dtype}")
    if array.dtype.kind == "O":
        try:
            array = array.astype(np.float64)
        except (ValueError, TypeError) as exc:
            raise DataError(
                f"{what} must be numeric, but got dtype {array.dtype} ({one_line(exc)})"
            ) from exc
    result = np.ascontiguousarray(array, dtype=np.float64)
    finite = np.isfinite(result)
    if not finite.all():
        bad = int(result.size - np.count_nonzero(finite))
        column = int(np.flatnonzero(~finite.all(axis=0))[0])
        raise DataError(
            f"{what} must be finite, but got {bad} NaN/inf value(s) (first in column {column})"
        )
    return result


def _missing(y: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """Which labels are missing; pandas (0.5 s to import) only for object labels."""
    if y.dtype.kind in "iubUS":
        return np.zeros(y.shape, dtype=bool)
    if y.dtype.kind in "fc":
        return np.asarray(np.isnan(y), dtype=bool)
    import pandas as pd  # None, NaN, NaT, pd.NA among objects

    return np.asarray(pd.isna(y), dtype=bool)


def encode_labels(
    y: npt.NDArray[Any], *, what: str
) -> tuple[npt.NDArray[np.int64], tuple[str, ...]]:
    """Encode labels of any type to ``0 .. C-1`` in sorted order; names are ``str(label)``."""
    missing = _missing(np.asarray(y)).reshape(-1)
    if missing.any():
        raise DataError(
            f"{what} must have no missing values, but got {int(missing.sum())} "
            f"(first at row {int(np.flatnonzero(missing)[0])})"
        )
    try:
        values, codes = np.unique(y, return_inverse=True)
    except TypeError:
        values, codes = np.unique(y.astype(str), return_inverse=True)
    classes = tuple(str(v) for v in values.tolist())
    if len(classes) < 2:
        raise DataError(
            f"{what} must have at least 2 classes, but got {len(classes)} ({', '.join(classes)})"
        )
    return codes.reshape(-1).astype(np.int64), classes


def one_line(value: object) -> str:
    """``value`` on one line; an exception as ``Type: message``, for DataError messages."""
    text = " ".join(str(value).split())
    if not isinstance(value, BaseException):
        return text
    return f"{type(value).__name__}: {text}" if text else type(value).__name__
