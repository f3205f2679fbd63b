"""The small classification sets bundled with scikit-learn (no download needed).

The first load reads them through scikit-learn and caches the arrays as
``<cache_dir>/sklearn/<name>.npz``; later loads read that file with numpy alone,
so a study on iris does not pay for importing scikit-learn's dataset loaders
(about a second) to read 150 rows. A cache that cannot be read or written is
ignored with a warning: scikit-learn is always the source of truth.
"""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path

import numpy as np

from sweeplab.data._idx import write_atomic
from sweeplab.data._raw import RawData

__all__ = ["SKLEARN_DATASETS", "load_sklearn"]

logger = logging.getLogger(__name__)

SKLEARN_DATASETS = ("iris", "wine", "breast_cancer", "digits")

_CACHE_FORMAT = 1


def _cache_file(name: str, cache_dir: Path) -> Path:
    return cache_dir / "sklearn" / f"{name}-v{_CACHE_FORMAT}.npz"


def _from_sklearn(name: str) -> RawData:
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    return RawData(
        x=np.ascontiguousarray(bunch.data, dtype=np.float64),
        y=np.asarray(bunch.target, dtype=np.int64),
        classes=tuple(str(c) for c in bunch.target_names),
        source=f"sklearn:{name}",
    )


def _read_cache(name: str, file: Path) -> RawData | None:
    if not file.is_file():
        return None
    try:
        with np.load(file, allow_pickle=False) as npz:
            x, y, classes = npz["x"], npz["y"], npz["classes"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        logger.warning("Ignoring the %s cache %s: %s", name, file, exc)
        return None
    if x.dtype != np.float64 or y.dtype != np.int64 or x.ndim != 2 or len(x) != len(y):
        logger.warning("Ignoring the %s cache %s: unexpected arrays", name, file)
        return None
    return RawData(
        x=np.ascontiguousarray(x),
        y=y,
        classes=tuple(str(c) for c in classes),
        source=f"sklearn:{name}",
    )


def _write_cache(raw: RawData, file: Path) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, x=raw.x, y=raw.y, classes=np.array(raw.classes, dtype=str))
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(file, buffer.getvalue())
    except OSError as exc:
        logger.warning("Could not write the dataset cache %s: %s", file, exc)


def load_sklearn(name: str, cache_dir: Path) -> RawData:
    """scikit-learn's ``name`` set, from the cache under ``cache_dir`` when it is there.

    Class names come from ``target_names``; the arrays are the same either way.
    """
    file = _cache_file(name, cache_dir)
    cached = _read_cache(name, file)
    if cached is not None:
        return cached
    raw = _from_sklearn(name)
    _write_cache(raw, file)
    return raw
