"""Feature scaling fitted on the train split only, so val/test never leak into it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from sweeplab.errors import DataError

__all__ = ["SCALES", "fit_scale", "scale_features", "validate_scale"]

SCALES = ("minmax", "standard", "none")

Float32 = npt.NDArray[np.float32]


def validate_scale(scale: object) -> str:
    """Return ``scale`` if it names a known scaler."""
    if not isinstance(scale, str) or scale not in SCALES:
        choices = ", ".join(repr(s) for s in SCALES)
        raise DataError(f"data.scale must be one of {choices}, but got {scale!r}")
    return scale


def scale_features(
    train: npt.NDArray[Any], others: Sequence[npt.NDArray[Any]], scale: str, *, dataset: str
) -> list[Float32]:
    """Cast to float32 and scale ``train`` and ``others`` with statistics of ``train``.

    ``minmax`` maps train to [0, 1] per feature and ``standard`` to zero mean and
    unit variance; a constant feature is divided by 1 so it never yields NaN.
    """
    return fit_scale(train, others, scale, dataset=dataset)[0]


def fit_scale(
    train: npt.NDArray[Any], others: Sequence[npt.NDArray[Any]], scale: str, *, dataset: str
) -> tuple[list[Float32], tuple[Float32, Float32] | None]:
    """:func:`scale_features` plus the fitted ``(shift, spread)`` (``None`` for ``none``).

    The statistics are kept so a trained model can be applied to raw features:
    ``(x.astype(float32) - shift) / spread`` in float32 gives the same numbers.
    """
    arrays = [_to_float32(a, dataset=dataset) for a in (train, *others)]
    if scale == "none":
        return arrays, None
    fitted = arrays[0]
    if scale == "minmax":
        shift = fitted.min(axis=0)
        spread = fitted.max(axis=0) - shift
    else:
        shift = fitted.mean(axis=0, dtype=np.float64).astype(np.float32)
        spread = fitted.std(axis=0, dtype=np.float64).astype(np.float32)
    if not np.isfinite(spread).all():
        raise DataError(
            f"features of dataset {dataset!r} must have a range that fits in float32, "
            f"but got an overflowing range in column {int(np.flatnonzero(~np.isfinite(spread))[0])}"
        )
    spread[spread == 0] = 1.0
    for array in arrays:
        array -= shift
        array /= spread
    return arrays, (shift, spread)


def _to_float32(array: npt.NDArray[Any], *, dataset: str) -> Float32:
    with np.errstate(over="ignore"):
        result = np.array(array, dtype=np.float32, order="C", copy=True)
    if array.dtype.kind == "f" and array.dtype.itemsize > 4 and not np.isfinite(result).all():
        raise DataError(
            f"features of dataset {dataset!r} must fit in float32 (|x| < 3.4e38), "
            "but some values overflow"
        )
    return result
