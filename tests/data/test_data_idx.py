"""The IDX reader and every way an IDX file can be broken."""

from __future__ import annotations

import gzip
import hashlib
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sweeplab.data import _idx, load_dataset
from sweeplab.data._idx import decode_idx, read_idx
from sweeplab.errors import DataError

IdxFiles = dict[str, bytes]


@pytest.fixture
def images() -> np.ndarray:
    return np.arange(3 * 2 * 4, dtype=np.uint8).reshape(3, 2, 4)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_raw_and_gzip(
    tmp_path: Path, images: np.ndarray, encode_idx: Callable[..., bytes], suffix: str
) -> None:
    data = encode_idx(images)
    file = tmp_path / f"images-idx3-ubyte{suffix}"
    file.write_bytes(gzip.compress(data) if suffix else data)
    result = read_idx(file)
    assert result.dtype == np.uint8
    assert np.array_equal(result, images)


def test_read_idx_detects_gzip_without_suffix(
    tmp_path: Path, images: np.ndarray, encode_idx: Callable[..., bytes]
) -> None:
    file = tmp_path / "images"
    file.write_bytes(gzip.compress(encode_idx(images)))
    assert np.array_equal(read_idx(file), images)


def test_decode_labels_and_other_dtypes() -> None:
    labels = decode_idx(bytes([0, 0, 8, 1]) + struct.pack(">I", 3) + bytes([7, 8, 9]), name="l")
    assert labels.tolist() == [7, 8, 9]
    ints = decode_idx(bytes([0, 0, 0x0C, 1]) + struct.pack(">I2i", 2, -1, 70000), name="i")
    assert ints.tolist() == [-1, 70000]
    assert ints.dtype.isnative


def test_wrong_magic(images: np.ndarray, encode_idx: Callable[..., bytes]) -> None:
    data = encode_idx(images)
    with pytest.raises(
        DataError, match=r"^IDX file x must start with magic 0x00000801, but got 0x00000803$"
    ):
        decode_idx(data, name="x", magic=0x801)
    with pytest.raises(DataError, match="must start with an IDX magic number"):
        decode_idx(b"\x12\x34" + data[2:], name="x")
    with pytest.raises(DataError, match="must start with an IDX magic number"):
        decode_idx(b"\x00\x00\x07" + data[3:], name="x")


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (2, "must start with a 4-byte magic number, but got 2 bytes"),
        (10, "its header must have 16 bytes for 3 dimensions, but got 10"),
        (-1, r"dims \(3, 2, 4\) need 24 data bytes, but got 23"),
    ],
)
def test_truncated(
    images: np.ndarray, encode_idx: Callable[..., bytes], cut: int, message: str
) -> None:
    data = encode_idx(images)
    with pytest.raises(DataError, match=f"IDX file x is truncated: .*{message}"):
        decode_idx(data[:cut], name="x")


def test_trailing_bytes(images: np.ndarray, encode_idx: Callable[..., bytes]) -> None:
    with pytest.raises(DataError, match="must hold exactly 24 data bytes for dims"):
        decode_idx(encode_idx(images) + b"\x00", name="x")


def test_not_gzip_though_named_gz(
    tmp_path: Path, images: np.ndarray, encode_idx: Callable[..., bytes]
) -> None:
    file = tmp_path / "t10k-images-idx3-ubyte.gz"
    file.write_bytes(encode_idx(images))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz must be gzip-compressed"):
        read_idx(file)


def test_truncated_gzip(
    tmp_path: Path, images: np.ndarray, encode_idx: Callable[..., bytes]
) -> None:
    file = tmp_path / "x.gz"
    file.write_bytes(gzip.compress(encode_idx(images))[:-12])
    with pytest.raises(DataError, match=r"x\.gz must be a valid gzip file, but got EOFError"):
        read_idx(file)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="could not read"):
        read_idx(tmp_path / "nope")


# A whole set, read through load_dataset(path=...), which is then the only source.


@pytest.mark.parametrize("gz", [True, False])
def test_load_from_path(
    tmp_path: Path, idx_files: IdxFiles, write_idx: Callable[..., Path], gz: bool
) -> None:
    folder = write_idx(tmp_path / "fm", idx_files, gz=gz)
    data = load_dataset("fashion_mnist", path=str(folder), cache_dir=tmp_path / "cache")
    assert data.source == str(folder.resolve())
    assert data.n_features == 16
    assert data.n_classes == 10
    assert data.classes[0] == "T-shirt/top"
    assert data.classes[9] == "Ankle boot"
    assert (data.n_train, data.n_val, data.n_test) == (350, 50, 100)
    assert not (tmp_path / "cache").exists(), "path= must not populate the cache"


def test_load_from_path_with_dotted_names(
    tmp_path: Path, idx_files: IdxFiles, write_idx: Callable[..., Path]
) -> None:
    folder = tmp_path / "kaggle"
    write_idx(folder, {k.replace("-idx", ".idx"): v for k, v in idx_files.items()}, gz=False)
    assert load_dataset("fashion_mnist", path=folder).n_test == 100


def _broken_set(
    tmp_path: Path,
    idx_files: IdxFiles,
    write_idx: Callable[..., Path],
    name: str,
    data: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    files = {**idx_files, name: data}
    sha = {k: hashlib.sha256(v).hexdigest() for k, v in files.items()}
    monkeypatch.setitem(_idx.SHA256, "fashion_mnist", sha)
    return write_idx(tmp_path / "broken", files)


def test_label_count_mismatch(
    tmp_path: Path,
    idx_files: IdxFiles,
    write_idx: Callable[..., Path],
    encode_idx: Callable[..., bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    labels = encode_idx(np.zeros(399, dtype=np.uint8))
    folder = _broken_set(
        tmp_path, idx_files, write_idx, "train-labels-idx1-ubyte", labels, monkeypatch
    )
    with pytest.raises(
        DataError,
        match=r"train-labels-idx1-ubyte must have one label per image of "
        r"train-images-idx3-ubyte, but got 399 labels for 400 images",
    ):
        load_dataset("fashion_mnist", path=folder)


def test_labels_out_of_range(
    tmp_path: Path,
    idx_files: IdxFiles,
    write_idx: Callable[..., Path],
    encode_idx: Callable[..., bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    labels = encode_idx(np.full(100, 12, dtype=np.uint8))
    folder = _broken_set(
        tmp_path, idx_files, write_idx, "t10k-labels-idx1-ubyte", labels, monkeypatch
    )
    with pytest.raises(DataError, match=r"must be in 0\.\.9, but got 12"):
        load_dataset("fashion_mnist", path=folder)


def test_images_file_with_labels_magic(
    tmp_path: Path,
    idx_files: IdxFiles,
    write_idx: Callable[..., Path],
    encode_idx: Callable[..., bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    swapped = idx_files["train-labels-idx1-ubyte"]
    folder = _broken_set(
        tmp_path, idx_files, write_idx, "train-images-idx3-ubyte", swapped, monkeypatch
    )
    with pytest.raises(DataError, match="must start with magic 0x00000803, but got 0x00000801"):
        load_dataset("fashion_mnist", path=folder)


def test_checksum_mismatch(
    tmp_path: Path, idx_files: IdxFiles, write_idx: Callable[..., Path]
) -> None:
    files = dict(idx_files)
    tampered = bytearray(files["t10k-images-idx3-ubyte"])
    tampered[-1] ^= 0xFF
    files["t10k-images-idx3-ubyte"] = bytes(tampered)
    folder = write_idx(tmp_path / "tampered", files)
    expected = _idx.SHA256["fashion_mnist"]["t10k-images-idx3-ubyte"]
    got = hashlib.sha256(tampered).hexdigest()
    with pytest.raises(DataError) as info:
        load_dataset("fashion_mnist", path=folder)
    message = str(info.value)
    assert "t10k-images-idx3-ubyte" in message
    assert f"must be {expected}, but got {got}" in message
    assert "\n" not in message


def test_real_checksum_table_rejects_synthetic_files(
    tmp_path: Path, make_idx: Callable[..., IdxFiles], write_idx: Callable[..., Path]
) -> None:
    folder = write_idx(tmp_path / "fake", make_idx())
    with pytest.raises(
        DataError, match="c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
    ):
        load_dataset("fashion_mnist", path=folder)


def test_mnist_has_no_sha_table_so_any_valid_set_loads(
    tmp_path: Path, make_idx: Callable[..., IdxFiles], write_idx: Callable[..., Path]
) -> None:
    folder = write_idx(tmp_path / "mnist", make_idx(), gz=False)
    data = load_dataset("mnist", path=folder)
    assert data.classes == tuple(str(d) for d in range(10))


def test_path_missing_file(
    tmp_path: Path, idx_files: IdxFiles, write_idx: Callable[..., Path]
) -> None:
    folder = write_idx(tmp_path / "partial", idx_files)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(
        DataError, match=r"must contain t10k-labels-idx1-ubyte\.gz or t10k-labels-idx1-ubyte"
    ):
        load_dataset("fashion_mnist", path=folder)


def test_path_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(
        DataError,
        match=r"data\.path must be a folder holding the four fashion_mnist IDX files, "
        r"but got .* \(not found\)",
    ):
        load_dataset("fashion_mnist", path=tmp_path / "missing")
