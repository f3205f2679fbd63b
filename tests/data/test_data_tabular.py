"""CSV and Parquet files with a target column."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sweeplab.data import load_dataset
from sweeplab.errors import DataError


def _frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.integers(0, 10, size=n),
            "flag": rng.integers(0, 2, size=n).astype(bool),
            "species": np.array(["cat", "dog", "ant"])[np.arange(n) % 3],
        }
    )


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    file = tmp_path / "animals.csv"
    _frame().to_csv(file, index=False)
    return file


def test_csv(csv_file: Path) -> None:
    data = load_dataset("csv", path=str(csv_file), target="species")
    assert data.name == "csv"
    assert data.classes == ("ant", "cat", "dog")
    assert data.n_features == 3
    assert data.n_train + data.n_val + data.n_test == 60
    assert data.source == str(csv_file.resolve())
    raw = load_dataset("csv", path=csv_file, target="species", scale="none")
    frame = _frame()
    first = raw.x_train[0].numpy().astype(np.float64)
    match = np.isclose(frame[["a", "b", "flag"]].to_numpy(dtype=np.float64), first).all(axis=1)
    assert match.sum() == 1
    assert frame["species"][match].item() == raw.classes[int(raw.y_train[0])]


def test_integer_labels_sort_numerically(tmp_path: Path) -> None:
    file = tmp_path / "ints.csv"
    frame = _frame().assign(label=np.arange(60) % 3 * 5 + 5).drop(columns="species")
    frame.to_csv(file, index=False)
    assert load_dataset("csv", path=file, target="label").classes == ("5", "10", "15")


def test_parquet(tmp_path: Path) -> None:
    file = tmp_path / "animals.parquet"
    _frame().to_parquet(file)
    data = load_dataset("parquet", path=file, target="species")
    from_csv_frame = tmp_path / "same.csv"
    _frame().to_csv(from_csv_frame, index=False)
    assert data.classes == ("ant", "cat", "dog")
    assert (
        data.fingerprint == load_dataset("csv", path=from_csv_frame, target="species").fingerprint
    )


def test_parquet_without_pyarrow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "x.parquet"
    file.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes ``import pyarrow`` fail
    with pytest.raises(DataError, match=r"pip install 'sweeplab\[parquet\]'"):
        load_dataset("parquet", path=file, target="y")


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_path_required(kind: str) -> None:
    with pytest.raises(DataError, match=f"^data.path is required for dataset '{kind}'$"):
        load_dataset(kind, target="y")


def test_target_required(csv_file: Path) -> None:
    with pytest.raises(DataError, match=r"data\.target is required for dataset 'csv'"):
        load_dataset("csv", path=csv_file)


def test_target_not_a_column(csv_file: Path) -> None:
    with pytest.raises(
        DataError,
        match=r"data\.target must be a column of 'animals\.csv', but got 'label' "
        r"\(columns: 'a', 'b', 'flag', 'species'\)",
    ):
        load_dataset("csv", path=csv_file, target="label")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(
        DataError,
        match=r"data\.path must be an existing csv file, but got .*nope\.csv' \(not found\)",
    ):
        load_dataset("csv", path=tmp_path / "nope.csv", target="y")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"\(a folder\)"):
        load_dataset("csv", path=tmp_path, target="y")


@pytest.mark.parametrize(
    "content", [b"", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00", b'a,b\n1,"2\n']
)
def test_not_a_csv(tmp_path: Path, content: bytes) -> None:
    file = tmp_path / "bad.csv"
    file.write_bytes(content)
    with pytest.raises(DataError, match=r"'bad\.csv'"):
        load_dataset("csv", path=file, target="b")


def test_not_a_parquet(csv_file: Path) -> None:
    with pytest.raises(
        DataError, match=r"data\.path must be a readable parquet file, but 'animals\.csv'"
    ):
        load_dataset("parquet", path=csv_file, target="species")


def test_header_only(tmp_path: Path) -> None:
    file = tmp_path / "empty.csv"
    file.write_text("a,b,y\n")
    with pytest.raises(DataError, match="must have at least one data row"):
        load_dataset("csv", path=file, target="y")


def test_string_feature(tmp_path: Path) -> None:
    file = tmp_path / "s.csv"
    _frame().assign(color=["red"] * 30 + ["7"] * 30).to_csv(file, index=False)
    with pytest.raises(
        DataError, match=r"feature column 'color' of 's\.csv' must be numeric, but got 'red'"
    ):
        load_dataset("csv", path=file, target="species")


def test_nan_feature(tmp_path: Path) -> None:
    file = tmp_path / "n.csv"
    frame = _frame()
    frame.loc[4, "a"] = np.nan
    frame.loc[9, "a"] = -np.inf
    frame.to_csv(file, index=False)
    with pytest.raises(
        DataError,
        match=r"feature column 'a' of 'n\.csv' must be finite, but got 2 NaN/inf value\(s\) "
        r"\(first at row 4\)",
    ):
        load_dataset("csv", path=file, target="species")


def test_inf_feature_in_parquet(tmp_path: Path) -> None:
    file = tmp_path / "inf.parquet"
    frame = _frame()
    frame.loc[3, "a"] = np.inf
    frame.to_parquet(file)
    with pytest.raises(DataError, match=r"feature column 'a' .* must be finite, but got 1"):
        load_dataset("parquet", path=file, target="species")


def test_missing_target(tmp_path: Path) -> None:
    file = tmp_path / "t.csv"
    frame = _frame()
    frame.loc[7, "species"] = None
    frame.to_csv(file, index=False)
    with pytest.raises(
        DataError,
        match=r"target column 'species' of 't\.csv' must have no missing values, but got 1 "
        r"\(first at row 7\)",
    ):
        load_dataset("csv", path=file, target="species")


def test_single_class(tmp_path: Path) -> None:
    file = tmp_path / "one.csv"
    _frame().assign(species="cat").to_csv(file, index=False)
    with pytest.raises(
        DataError,
        match=r"^target column 'species' of 'one\.csv' must have at least 2 classes, "
        r"but got 1 \(cat\)$",
    ):
        load_dataset("csv", path=file, target="species")


def test_only_the_target_column(tmp_path: Path) -> None:
    file = tmp_path / "y.csv"
    _frame()[["species"]].to_csv(file, index=False)
    with pytest.raises(DataError, match="must have at least one feature column"):
        load_dataset("csv", path=file, target="species")


def test_rare_class_is_a_clear_error(tmp_path: Path) -> None:
    file = tmp_path / "rare.csv"
    frame = _frame()
    frame.loc[0, "species"] = "eel"
    frame.to_csv(file, index=False)
    with pytest.raises(
        DataError, match=r"class 'eel' of dataset 'csv' must have at least 3 samples"
    ):
        load_dataset("csv", path=file, target="species")
