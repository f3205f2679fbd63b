"""Built-in dataset names and dispatch from a dataset string to its loader."""

from __future__ import annotations

import difflib
import logging
import os
from pathlib import Path

from sweeplab.data._idx import IDX_DATASETS, load_idx
from sweeplab.data._module import load_from_function
from sweeplab.data._raw import RawData
from sweeplab.data._sklearn import SKLEARN_DATASETS, load_sklearn
from sweeplab.data._tabular import TABULAR_DATASETS, load_tabular
from sweeplab.errors import DataError

__all__ = ["DATASETS", "check_name", "default_cache_dir", "has_test_set", "load_raw"]

logger = logging.getLogger(__name__)

DATASETS: tuple[str, ...] = (*SKLEARN_DATASETS, *IDX_DATASETS, *TABULAR_DATASETS)


def check_name(dataset: object) -> str:
    """Return ``dataset`` if it is built in or looks like ``module:function``."""
    if not isinstance(dataset, str) or not dataset.strip():
        raise DataError(f"data.dataset must be a non-empty string, but got {dataset!r}")
    if dataset in DATASETS or ":" in dataset:
        return dataset
    close = difflib.get_close_matches(dataset.lower().replace("-", "_"), DATASETS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise DataError(
        f"data.dataset must be one of {', '.join(DATASETS)} or 'package.module:function', "
        f"but got {dataset!r}{hint}"
    )


def has_test_set(dataset: str) -> bool:
    """Whether ``dataset`` ships an official test set that replaces split[2]."""
    return dataset in IDX_DATASETS


def default_cache_dir(cache_dir: str | os.PathLike[str] | None) -> Path:
    """``cache_dir``, else ``$SWEEPLAB_DATA_DIR``, else ``~/.cache/sweeplab``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("SWEEPLAB_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "sweeplab"


def load_raw(
    dataset: str,
    *,
    path: str | os.PathLike[str] | None,
    target: str | None,
    cache_dir: Path,
) -> RawData:
    """Load the raw, unsplit data of a checked ``dataset`` name."""
    if path is not None and dataset not in (*IDX_DATASETS, *TABULAR_DATASETS):
        logger.warning("Ignoring data.path %r: dataset %r does not read files", str(path), dataset)
    if target is not None and dataset not in TABULAR_DATASETS:
        logger.warning("Ignoring data.target %r: it is only used by csv and parquet", target)
    if dataset in SKLEARN_DATASETS:
        return load_sklearn(dataset, cache_dir)
    if dataset in IDX_DATASETS:
        return load_idx(dataset, path=path, cache_dir=cache_dir)
    if dataset in TABULAR_DATASETS:
        return load_tabular(dataset, path=path, target=target)
    return load_from_function(dataset)
