"""Data from user code: ``package.module:function`` returning ``(X, y)``."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from sweeplab.data._raw import RawData, as_features, encode_labels, one_line
from sweeplab.errors import DataError

__all__ = ["load_from_function"]


def load_from_function(spec: str) -> RawData:
    """Import ``module:function``, call it without arguments and validate its data.

    It must return ``(X, y)`` or a mapping with ``"x"`` (or ``"X"``), ``"y"`` and
    optionally ``"classes"``. With ``classes``, y holds integer labels indexing
    it; otherwise labels of any type are encoded in sorted order.
    """
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise DataError(f"data.dataset must be 'package.module:function', but got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise DataError(
            f"data.dataset {spec!r} must name an importable module, but importing "
            f"{module_name!r} failed: {one_line(exc)} (is it on PYTHONPATH?)"
        ) from exc
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise DataError(
                f"data.dataset {spec!r} must name a function, but module {module_name!r} "
                f"has no attribute {attr!r}"
            )
        target = getattr(target, part)
    if not callable(target):
        raise DataError(
            f"data.dataset {spec!r} must name a function, but got {type(target).__name__}"
        )
    try:
        result = target()
    except Exception as exc:
        raise DataError(f"data.dataset {spec!r} raised {one_line(exc)}") from exc
    x, y, classes = _unpack(result, spec=spec)
    features = as_features(_numpy(x), what=f"X returned by {spec!r}")
    labels = _numpy(y)
    if labels.ndim != 1:
        raise DataError(f"y returned by {spec!r} must be 1-D, but got shape {tuple(labels.shape)}")
    if labels.shape[0] != features.shape[0]:
        raise DataError(
            f"y returned by {spec!r} must have one label per row of X, but got "
            f"{labels.shape[0]} labels for {features.shape[0]} rows"
        )
    if classes is None:
        codes, names = encode_labels(labels, what=f"y returned by {spec!r}")
    else:
        codes, names = _indexed_labels(labels, classes, spec=spec)
    return RawData(x=features, y=codes, classes=names, source=spec)


def _unpack(result: object, *, spec: str) -> tuple[Any, Any, Any]:
    if isinstance(result, Mapping):
        x_key = "x" if "x" in result else "X"
        if x_key not in result or "y" not in result:
            raise DataError(
                f"data.dataset {spec!r} must return (X, y) or a dict with keys 'x' and 'y', "
                f"but got a dict with keys {sorted(str(k) for k in result)}"
            )
        return result[x_key], result["y"], result.get("classes")
    if isinstance(result, Sequence) and not isinstance(result, str) and len(result) == 2:
        return result[0], result[1], None
    raise DataError(
        f"data.dataset {spec!r} must return (X, y) or a dict with keys 'x' and 'y', "
        f"but got {type(result).__name__}"
    )


def _numpy(value: object) -> npt.NDArray[Any]:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except (ValueError, TypeError):
        return np.asarray(value, dtype=object)


def _indexed_labels(
    labels: npt.NDArray[Any], classes: object, *, spec: str
) -> tuple[npt.NDArray[np.int64], tuple[str, ...]]:
    if isinstance(classes, str) or not isinstance(classes, Sequence | np.ndarray):
        raise DataError(
            f"'classes' returned by {spec!r} must be a sequence of names, "
            f"but got {type(classes).__name__}"
        )
    names = tuple(str(c) for c in classes)
    if len(names) < 2:
        raise DataError(
            f"'classes' returned by {spec!r} must have at least 2 classes, but got {len(names)}"
        )
    if labels.dtype.kind not in "iu" and not (
        labels.dtype.kind == "f"
        and np.isfinite(labels).all()
        and (labels == np.round(labels)).all()
    ):
        raise DataError(
            f"y returned by {spec!r} must be integer labels when 'classes' is given, "
            f"but got dtype {labels.dtype}"
        )
    codes = labels.astype(np.int64)
    if codes.size and (codes.min() < 0 or codes.max() >= len(names)):
        bad = int(codes.min()) if codes.min() < 0 else int(codes.max())
        raise DataError(
            f"y returned by {spec!r} must be in 0..{len(names) - 1} to index 'classes', "
            f"but got {bad}"
        )
    return codes, names
