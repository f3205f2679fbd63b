"""Classification data from a CSV or Parquet file with a named target column."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from sweeplab.data._raw import RawData, encode_labels, one_line
from sweeplab.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TABULAR_DATASETS", "load_tabular"]

TABULAR_DATASETS = ("csv", "parquet")


def load_tabular(kind: str, *, path: str | os.PathLike[str] | None, target: str | None) -> RawData:
    """Read ``path`` as ``kind`` (csv or parquet); ``target`` names the label column.

    Every other column is a feature and must be numeric and finite. Labels of
    any type are encoded in sorted order and named ``str(label)``.
    """
    import pandas as pd  # only tabular data pays for pandas

    if path is None:
        raise DataError(f"data.path is required for dataset {kind!r}")
    if target is None:
        raise DataError(f"data.target is required for dataset {kind!r} (the label column)")
    file = Path(path).expanduser()
    if not file.is_file():
        state = "a folder" if file.is_dir() else "not found"
        raise DataError(
            f"data.path must be an existing {kind} file, but got {str(file)!r} ({state})"
        )
    frame = _read_csv(file) if kind == "csv" else _read_parquet(file)
    shown = file.name
    if len(frame) == 0:
        raise DataError(f"{kind} file {shown!r} must have at least one data row, but got none")
    columns = [str(c) for c in frame.columns]
    if target not in columns:
        raise DataError(
            f"data.target must be a column of {shown!r}, but got {target!r} "
            f"(columns: {_preview(columns)})"
        )
    if columns.count(target) > 1:
        raise DataError(f"data.target must name one column of {shown!r}, but {target!r} repeats")
    frame.columns = pd.Index(columns)
    features = [c for c in columns if c != target]
    if not features:
        raise DataError(
            f"{kind} file {shown!r} must have at least one feature column besides "
            f"target {target!r}, but got none"
        )
    x = np.column_stack([_feature(frame[c], column=c, file=shown) for c in features])
    y, classes = encode_labels(
        frame[target].to_numpy(), what=f"target column {target!r} of {shown!r}"
    )
    return RawData(x=x, y=y, classes=classes, source=str(file.resolve()))


def _read_csv(file: Path) -> pd.DataFrame:
    import pandas as pd  # only tabular data pays for pandas

    try:
        return pd.read_csv(file)
    except (
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        UnicodeDecodeError,
        ValueError,
        OSError,
    ) as exc:
        raise DataError(
            f"data.path must be a readable CSV file, but {file.name!r} "
            f"could not be parsed: {one_line(exc)}"
        ) from exc


def _read_parquet(file: Path) -> pd.DataFrame:
    import pandas as pd  # only tabular data pays for pandas

    try:
        import pyarrow
    except ImportError as exc:
        raise DataError(
            "reading parquet needs pyarrow, which is not installed: pip install 'sweeplab[parquet]'"
        ) from exc
    try:
        return pd.read_parquet(file, engine="pyarrow")
    except (pyarrow.ArrowException, ValueError, OSError, TypeError) as exc:
        raise DataError(
            f"data.path must be a readable parquet file, but {file.name!r} "
            f"could not be read: {one_line(exc)}"
        ) from exc


def _feature(series: pd.Series[Any], *, column: str, file: str) -> npt.NDArray[np.float64]:
    import pandas as pd  # only tabular data pays for pandas

    if pd.api.types.is_bool_dtype(series.dtype):
        series = series.astype("float64")
    numeric = pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_complex_dtype(
        series.dtype
    )
    if not numeric:
        coerced = pd.to_numeric(series, errors="coerce")
        bad = coerced.isna() & series.notna()
        example = series[bad].iloc[0] if bad.any() else series.iloc[0]
        raise DataError(
            f"feature column {column!r} of {file!r} must be numeric, but got {example!r} "
            f"(dtype {series.dtype}); drop or encode the column"
        )
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    bad_count = int((~np.isfinite(values)).sum())
    if bad_count:
        first = int(np.flatnonzero(~np.isfinite(values))[0])
        raise DataError(
            f"feature column {column!r} of {file!r} must be finite, but got {bad_count} "
            f"NaN/inf value(s) (first at row {first})"
        )
    return values


def _preview(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", … {len(names) - limit} more" if len(names) > limit else "")
