"""Fashion-MNIST and MNIST from IDX files: a checked reader and its sources.

Sources are tried in order: the cache (``<cache_dir>/<name>/``), Debian's
``dataset-fashion-mnist`` folder (Fashion-MNIST only), then the official
download. ``path=`` names a local folder that is then the only source. Files
are verified by SHA-256 of their decompressed bytes where known, downloads also
by the MD5 of the ``.gz``; verified files from Debian or a download are cached
decompressed.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import math
import os
import struct
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from http.client import HTTPException
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sweeplab.data._raw import RawData, one_line
from sweeplab.errors import DataError

__all__ = [
    "DOWNLOAD_TIMEOUT_S",
    "FASHION_MNIST_DEBIAN_DIR",
    "FASHION_MNIST_URL",
    "FILES",
    "IDX_DATASETS",
    "MD5",
    "MNIST_URL",
    "SHA256",
    "decode_idx",
    "load_idx",
    "read_idx",
]

logger = logging.getLogger(__name__)

FASHION_MNIST_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_URL = (
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"
)
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
DOWNLOAD_TIMEOUT_S = 60.0

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

SHA256: dict[str, dict[str, str]] = {
    "fashion_mnist": {
        TRAIN_IMAGES: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        TRAIN_LABELS: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        TEST_IMAGES: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        TEST_LABELS: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    "mnist": {},
}
MD5: dict[str, dict[str, str]] = {
    "fashion_mnist": {
        TRAIN_IMAGES: "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        TRAIN_LABELS: "25c81989df183df01b3e8a0aad5dffbe",
        TEST_IMAGES: "bef4ecab320f06d8554ea6380940ec79",
        TEST_LABELS: "bb300cfdad3c16e7a12a480ee83cd310",
    },
    "mnist": {
        TRAIN_IMAGES: "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        TRAIN_LABELS: "d53e105ee54ea40749a09fcbcd1e9432",
        TEST_IMAGES: "9fb629c4189551a2d022fa330f9573f3",
        TEST_LABELS: "ec29112dd5afa0611ce80d1b7f02629c",
    },
}
CLASSES: dict[str, tuple[str, ...]] = {
    "fashion_mnist": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    "mnist": tuple(str(d) for d in range(10)),
}
IDX_DATASETS = tuple(CLASSES)

_GZIP_MAGIC = b"\x1f\x8b"
_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

Blobs = dict[str, bytes]


def read_idx(path: str | os.PathLike[str]) -> npt.NDArray[Any]:
    """Read one IDX file, gzip-compressed or raw, into an array of its dims."""
    file = Path(path)
    return decode_idx(_read_idx_bytes(file), name=str(file))


def decode_idx(raw: bytes, *, name: str, magic: int | None = None) -> npt.NDArray[Any]:
    """Parse decompressed IDX bytes; ``magic`` pins the expected magic number."""
    if len(raw) < 4:
        raise DataError(
            f"IDX file {name} is truncated: it must start with a 4-byte magic number, "
            f"but got {len(raw)} bytes"
        )
    found = int.from_bytes(raw[:4], "big")
    if magic is not None and found != magic:
        raise DataError(
            f"IDX file {name} must start with magic 0x{magic:08x}, but got 0x{found:08x}"
        )
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES or raw[3] == 0:
        raise DataError(
            f"IDX file {name} must start with an IDX magic number 0x0000TTDD, but got 0x{found:08x}"
        )
    dtype, ndim = _DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(
            f"IDX file {name} is truncated: its header must have {header} bytes for {ndim} "
            f"dimensions, but got {len(raw)}"
        )
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    count = math.prod(dims)
    expected, got = count * dtype.itemsize, len(raw) - header
    if got < expected:
        raise DataError(
            f"IDX file {name} is truncated: dims {dims} need {expected} data bytes, but got {got}"
        )
    if got > expected:
        raise DataError(
            f"IDX file {name} must hold exactly {expected} data bytes for dims {dims}, "
            f"but got {got}"
        )
    array = np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(dims)
    return array if dtype.itemsize == 1 else array.astype(dtype.newbyteorder("="))


def load_idx(name: str, *, path: str | os.PathLike[str] | None, cache_dir: Path) -> RawData:
    """Load ``name`` (fashion_mnist or mnist) from ``path`` or the first source that works."""
    if path is not None:
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise DataError(
                f"data.path must be a folder holding the four {name} IDX files, but got "
                f"{str(folder)!r} ({'not a folder' if folder.exists() else 'not found'})"
            )
        return _decode_set(name, _read_folder(folder), str(folder.resolve()))

    cache = cache_dir / name
    tried: list[str] = []
    try:
        blobs = _read_cache(cache)
        if blobs is not None:
            return _decode_set(name, blobs, f"cache:{cache}")
        tried.append(f"cache {cache}: not cached")
    except DataError as exc:
        logger.warning("Ignoring the %s cache: %s", name, exc)
        tried.append(f"cache {cache}: {exc}")

    for where, fetch in _remote_sources(name):
        try:
            blobs = fetch()
            data = _decode_set(name, blobs, where)
        except DataError as exc:
            logger.info("Could not load %s from %s: %s", name, where, exc)
            tried.append(f"{where}: {exc}")
            continue
        _write_cache(cache, blobs)
        return data

    hint = (
        "install it with `apt-get install dataset-fashion-mnist` or "
        if name == "fashion_mnist"
        else ""
    )
    raise DataError(
        f"dataset {name!r} could not be loaded from any source ({'; '.join(tried)}); "
        f"{hint}set data.path to a folder holding {', '.join(FILES)} (.gz or raw)"
    )


def _remote_sources(name: str) -> list[tuple[str, Callable[[], Blobs]]]:
    sources: list[tuple[str, Callable[[], Blobs]]] = []
    if name == "fashion_mnist":
        folder = FASHION_MNIST_DEBIAN_DIR
        sources.append((str(folder), lambda: _read_debian(folder)))
    base = FASHION_MNIST_URL if name == "fashion_mnist" else MNIST_URL
    sources.append((base, lambda: _download_set(name, base)))
    return sources


def _read_debian(folder: Path) -> Blobs:
    if not folder.is_dir():
        raise DataError("not installed")
    return _read_folder(folder)


def _read_folder(folder: Path) -> Blobs:
    blobs: Blobs = {}
    for file in FILES:
        dotted = file.replace("-idx", ".idx")
        names = (f"{file}.gz", file, f"{dotted}.gz", dotted)
        found = next((folder / n for n in names if (folder / n).is_file()), None)
        if found is None:
            present = sorted(p.name for p in folder.iterdir())[:8]
            raise DataError(
                f"{folder} must contain {file}.gz or {file}, but it does not "
                f"(found: {', '.join(present) or 'nothing'})"
            )
        blobs[file] = _read_idx_bytes(found)
    return blobs


def _read_cache(cache: Path) -> Blobs | None:
    if not all((cache / file).is_file() for file in FILES):
        return None
    return {file: _read_bytes(cache / file) for file in FILES}


def _download_set(name: str, base: str) -> Blobs:
    blobs: Blobs = {}
    for file in FILES:
        url = f"{base}{file}.gz"
        data = _download(url, timeout=DOWNLOAD_TIMEOUT_S)
        expected = MD5.get(name, {}).get(file)
        got = hashlib.md5(data, usedforsecurity=False).hexdigest()
        if expected is not None and got != expected:
            raise DataError(f"MD5 of {url} must be {expected}, but got {got}")
        blobs[file] = _gunzip(data, name=url)
    return blobs


def _download(url: str, *, timeout: float) -> bytes:
    """Fetch ``url``; any network failure becomes a DataError."""
    logger.info("Downloading %s", url)
    request = urllib.request.Request(url, headers={"User-Agent": "sweeplab"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data: bytes = response.read()
    except urllib.error.HTTPError as exc:
        raise DataError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise DataError(f"download of {url} failed: {one_line(exc.reason)}") from exc
    except (HTTPException, OSError, ValueError) as exc:
        raise DataError(f"download of {url} failed: {one_line(exc)}") from exc
    return data


def _decode_set(name: str, blobs: Blobs, where: str) -> RawData:
    _verify_sha256(name, blobs, where)
    classes = CLASSES[name]
    arrays: list[npt.NDArray[Any]] = []
    for images_file, labels_file in ((TRAIN_IMAGES, TRAIN_LABELS), (TEST_IMAGES, TEST_LABELS)):
        images = decode_idx(blobs[images_file], name=f"{where}/{images_file}", magic=IMAGES_MAGIC)
        labels = decode_idx(blobs[labels_file], name=f"{where}/{labels_file}", magic=LABELS_MAGIC)
        if labels.shape[0] != images.shape[0]:
            raise DataError(
                f"{where}/{labels_file} must have one label per image of {images_file}, "
                f"but got {labels.shape[0]} labels for {images.shape[0]} images"
            )
        if images.shape[0] == 0:
            raise DataError(f"{where}/{images_file} must hold at least one image, but got 0")
        if int(labels.max()) >= len(classes):
            raise DataError(
                f"labels in {where}/{labels_file} must be in 0..{len(classes) - 1}, "
                f"but got {int(labels.max())}"
            )
        arrays += [images.reshape(images.shape[0], -1), labels.astype(np.int64)]
    x_train, y_train, x_test, y_test = arrays
    return RawData(
        x=x_train, y=y_train, classes=classes, source=where, x_test=x_test, y_test=y_test
    )


def _verify_sha256(name: str, blobs: Blobs, where: str) -> None:
    known = SHA256.get(name, {})
    for file, data in blobs.items():
        expected = known.get(file)
        if expected is None:
            continue
        got = hashlib.sha256(data).hexdigest()
        if got != expected:
            raise DataError(
                f"SHA-256 of {where}/{file} (decompressed) must be {expected}, but got {got}; "
                "the file is corrupt or not the official release"
            )


def _write_cache(cache: Path, blobs: Blobs) -> None:
    try:
        cache.mkdir(parents=True, exist_ok=True)
        for file, data in blobs.items():
            write_atomic(cache / file, data)
    except OSError as exc:
        logger.warning("Could not write the dataset cache %s: %s", cache, exc)
        return
    logger.info("Cached %s", cache)


def write_atomic(target: Path, data: bytes) -> None:
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _read_idx_bytes(file: Path) -> bytes:
    data = _read_bytes(file)
    if file.name.endswith(".gz") or data[:2] == _GZIP_MAGIC:
        return _gunzip(data, name=str(file))
    return data


def _read_bytes(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        raise DataError(f"could not read {file}: {exc.strerror or exc}") from exc


def _gunzip(data: bytes, *, name: str) -> bytes:
    if data[:2] != _GZIP_MAGIC:
        raise DataError(
            f"{name} must be gzip-compressed (it ends in .gz), but it starts with "
            f"{data[:4].hex(' ') or 'nothing (empty file)'} instead of 1f 8b"
        )
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{name} must be a valid gzip file, but got {one_line(exc)}") from exc
