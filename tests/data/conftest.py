"""Fixtures for the data tests: no network, no real cache, synthetic IDX files."""

from __future__ import annotations

import gzip
import hashlib
import importlib
import struct
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

try:
    import sweeplab.data  # noqa: F401
except ImportError:  # not installed yet: test the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from sweeplab.data import _idx
from sweeplab.errors import DataError

IdxFiles = dict[str, bytes]


def idx_bytes(array: np.ndarray, magic_low: int = 0x08) -> bytes:
    """Encode a uint8 array as IDX bytes (magic 0x0000 08 <ndim>)."""
    header = bytes([0, 0, magic_low, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def make_idx_set(n_train: int = 400, n_test: int = 100, seed: int = 0) -> IdxFiles:
    """Decompressed bytes of a tiny 10-class, 4x4-pixel Fashion-MNIST look-alike."""
    rng = np.random.default_rng(seed)
    files: IdxFiles = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n, dtype=np.uint8) % 10
        images = rng.integers(0, 256, size=(n, 4, 4), dtype=np.uint8)
        files[f"{prefix}-images-idx3-ubyte"] = idx_bytes(images)
        files[f"{prefix}-labels-idx1-ubyte"] = idx_bytes(labels)
    return files


def write_idx_set(folder: Path, files: IdxFiles, *, gz: bool = True) -> Path:
    """Write ``files`` into ``folder`` (gzip-compressed with a .gz suffix if ``gz``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
        else:
            (folder / name).write_bytes(data)
    return folder


@pytest.fixture(autouse=True)
def _isolate(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Never touch the network, Debian's folder or the user's cache unless a test asks."""

    def no_network(url: str, *, timeout: float) -> bytes:
        raise DataError(f"download of {url} failed: network disabled in tests")

    monkeypatch.setattr(_idx, "_download", no_network)
    monkeypatch.setattr(_idx, "FASHION_MNIST_DEBIAN_DIR", Path("/nonexistent/sweeplab-test"))
    monkeypatch.setenv("SWEEPLAB_DATA_DIR", str(tmp_path_factory.mktemp("default-cache")))


@pytest.fixture
def make_idx() -> Callable[..., IdxFiles]:
    """The :func:`make_idx_set` helper."""
    return make_idx_set


@pytest.fixture
def write_idx() -> Callable[..., Path]:
    """The :func:`write_idx_set` helper."""
    return write_idx_set


@pytest.fixture
def encode_idx() -> Callable[..., bytes]:
    """The :func:`idx_bytes` helper."""
    return idx_bytes


@pytest.fixture
def idx_files(monkeypatch: pytest.MonkeyPatch) -> IdxFiles:
    """A synthetic Fashion-MNIST set whose SHA-256 and MD5 are the checksum table."""
    files = make_idx_set()
    monkeypatch.setitem(
        _idx.SHA256, "fashion_mnist", {k: hashlib.sha256(v).hexdigest() for k, v in files.items()}
    )
    monkeypatch.setitem(
        _idx.MD5,
        "fashion_mnist",
        {k: hashlib.md5(gzip.compress(v, mtime=0)).hexdigest() for k, v in files.items()},
    )
    return files


@pytest.fixture
def write_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], str]:
    """Write a module into a folder on sys.path; returns its import name."""
    folder = tmp_path / "usermods"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))

    def write(name: str, source: str) -> str:
        (folder / f"{name}.py").write_text(source)
        monkeypatch.delitem(sys.modules, name, raising=False)
        importlib.invalidate_caches()
        return name

    return write
