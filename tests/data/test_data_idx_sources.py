"""Where fashion_mnist/mnist come from: cache, then Debian's folder, then download."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from sweeplab.data import _idx, load_dataset
from sweeplab.errors import DataError

IdxFiles = dict[str, bytes]


class FakeServer:
    """Stands in for ``_idx._download``, serving gzipped files and counting calls."""

    def __init__(self, files: IdxFiles) -> None:
        self.files = {f"{k}.gz": gzip.compress(v, mtime=0) for k, v in files.items()}
        self.urls: list[str] = []

    def __call__(self, url: str, *, timeout: float) -> bytes:
        assert timeout > 0
        self.urls.append(url)
        return self.files[url.rsplit("/", 1)[1]]


def _cache_files(cache: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(cache.iterdir())}


def test_debian_folder_then_cache(
    tmp_path: Path,
    idx_files: IdxFiles,
    write_idx: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    debian = write_idx(tmp_path / "debian", idx_files)
    monkeypatch.setattr(_idx, "FASHION_MNIST_DEBIAN_DIR", debian)
    server = FakeServer(idx_files)
    monkeypatch.setattr(_idx, "_download", server)
    cache = tmp_path / "cache"

    first = load_dataset("fashion_mnist", cache_dir=cache)
    assert first.source == str(debian)
    assert server.urls == []
    assert _cache_files(cache / "fashion_mnist") == _idx.SHA256["fashion_mnist"]

    for file in debian.iterdir():
        file.unlink()
    second = load_dataset("fashion_mnist", cache_dir=cache)
    assert second.source == f"cache:{cache / 'fashion_mnist'}"
    assert server.urls == []
    assert second.fingerprint == first.fingerprint
    assert torch.equal(second.x_train, first.x_train)


def test_download_when_nothing_local(
    tmp_path: Path, idx_files: IdxFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FakeServer(idx_files)
    monkeypatch.setattr(_idx, "_download", server)
    monkeypatch.setattr(_idx, "FASHION_MNIST_URL", "https://example.test/fashion/")
    cache = tmp_path / "cache"

    data = load_dataset("fashion_mnist", cache_dir=cache)
    assert data.source == "https://example.test/fashion/"
    assert sorted(server.urls) == sorted(
        f"https://example.test/fashion/{name}.gz" for name in idx_files
    )
    assert _cache_files(cache / "fashion_mnist") == _idx.SHA256["fashion_mnist"]
    assert not [p for p in (cache / "fashion_mnist").iterdir() if p.name.endswith(".tmp")]

    server.urls.clear()
    assert load_dataset("fashion_mnist", cache_dir=cache).source.startswith("cache:")
    assert server.urls == []


def test_cache_comes_before_debian(
    tmp_path: Path,
    idx_files: IdxFiles,
    write_idx: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = tmp_path / "cache"
    write_idx(cache / "fashion_mnist", idx_files, gz=False)
    debian = write_idx(tmp_path / "debian", idx_files)
    monkeypatch.setattr(_idx, "FASHION_MNIST_DEBIAN_DIR", debian)
    assert load_dataset("fashion_mnist", cache_dir=cache).source.startswith("cache:")


def test_default_cache_dir_from_environment(
    tmp_path: Path, idx_files: IdxFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWEEPLAB_DATA_DIR", str(tmp_path / "env-cache"))
    monkeypatch.setattr(_idx, "_download", FakeServer(idx_files))
    load_dataset("fashion_mnist")
    assert (tmp_path / "env-cache" / "fashion_mnist" / "train-images-idx3-ubyte").is_file()


def test_corrupt_cache_falls_back_and_is_repaired(
    tmp_path: Path,
    idx_files: IdxFiles,
    write_idx: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = tmp_path / "cache"
    write_idx(cache / "fashion_mnist", idx_files, gz=False)
    (cache / "fashion_mnist" / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01garbage")
    debian = write_idx(tmp_path / "debian", idx_files)
    monkeypatch.setattr(_idx, "FASHION_MNIST_DEBIAN_DIR", debian)
    assert load_dataset("fashion_mnist", cache_dir=cache).source == str(debian)
    assert _cache_files(cache / "fashion_mnist") == _idx.SHA256["fashion_mnist"]


def test_corrupt_debian_folder_falls_back_to_download(
    tmp_path: Path,
    idx_files: IdxFiles,
    write_idx: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    debian = write_idx(tmp_path / "debian", {**idx_files, "train-labels-idx1-ubyte": b"bad"})
    monkeypatch.setattr(_idx, "FASHION_MNIST_DEBIAN_DIR", debian)
    monkeypatch.setattr(_idx, "_download", FakeServer(idx_files))
    data = load_dataset("fashion_mnist", cache_dir=tmp_path / "cache")
    assert data.source == _idx.FASHION_MNIST_URL


def test_download_md5_mismatch(
    tmp_path: Path, idx_files: IdxFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FakeServer(idx_files)
    server.files["train-labels-idx1-ubyte.gz"] = gzip.compress(
        idx_files["train-labels-idx1-ubyte"], mtime=1
    )
    monkeypatch.setattr(_idx, "_download", server)
    cache = tmp_path / "cache"
    with pytest.raises(
        DataError,
        match=r"MD5 of https://\S+/train-labels-idx1-ubyte\.gz must be [0-9a-f]{32}, but got",
    ):
        load_dataset("fashion_mnist", cache_dir=cache)
    assert not (cache / "fashion_mnist").exists()


def test_every_source_fails(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_dataset("fashion_mnist", cache_dir=tmp_path / "cache")
    message = str(info.value)
    assert message.startswith("dataset 'fashion_mnist' could not be loaded from any source (")
    assert f"cache {tmp_path / 'cache' / 'fashion_mnist'}: not cached" in message
    assert "/nonexistent/sweeplab-test: not installed" in message
    assert "network disabled in tests" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "data.path" in message
    assert "\n" not in message


def test_mnist_is_downloaded_from_its_own_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(DataError) as info:
        load_dataset("mnist", cache_dir=tmp_path)
    message = str(info.value)
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/" in message
    assert "apt-get" not in message


def test_real_download_error_becomes_data_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the real downloader; the URL fails before any connection
    with pytest.raises(DataError, match=r"^download of nosuchscheme://x/a\.gz failed: "):
        _idx._download("nosuchscheme://x/a.gz", timeout=2)


def test_unwritable_cache_is_not_fatal(
    tmp_path: Path, idx_files: IdxFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(_idx, "_download", FakeServer(idx_files))
    data = load_dataset("fashion_mnist", cache_dir=blocker)
    assert data.n_test == 100


def test_official_test_set_and_train_val_proportion(
    tmp_path: Path,
    make_idx: Callable[..., IdxFiles],
    write_idx: Callable[..., Path],
) -> None:
    folder = write_idx(tmp_path / "mnist", make_idx(n_train=800, n_test=200))
    data = load_dataset("mnist", path=folder, split=(0.7, 0.1, 0.2), scale="none")
    assert (data.n_train, data.n_val, data.n_test) == (700, 100, 200)
    official = _idx.read_idx(folder / "t10k-images-idx3-ubyte.gz").reshape(200, 16)
    assert np.array_equal(data.x_test.numpy(), official.astype(np.float32))
    same = load_dataset("mnist", path=folder, split=(0.875, 0.125, 0.0), scale="none")
    assert torch.equal(same.x_train, data.x_train)
    assert (same.n_train, same.n_val) == (700, 100)


def test_max_samples_with_official_test_set(
    tmp_path: Path,
    make_idx: Callable[..., IdxFiles],
    write_idx: Callable[..., Path],
) -> None:
    folder = write_idx(tmp_path / "mnist", make_idx(n_train=2000, n_test=1000))
    data = load_dataset("mnist", path=folder, max_samples=800)
    assert (data.n_train, data.n_val) == (700, 100)
    assert data.n_test == 160  # max(800 // 5, 10 * 10)
    small = load_dataset("mnist", path=folder, max_samples=200)
    assert small.n_test == 100  # 10 per class at least
    for y in (small.y_train, small.y_val, small.y_test):
        assert set(y.tolist()) == set(range(10))
