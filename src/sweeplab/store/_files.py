"""Crash-safe file writes: a reader sees the old file or the new one, never half."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sweeplab.errors import DiskFullError

__all__ = [
    "backup_name",
    "is_disk_full",
    "json_line",
    "json_text",
    "stop_when_full",
    "write_json",
    "write_text",
]

_FULL = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the file system is out of space (or quota)."""
    return isinstance(exc, OSError) and exc.errno in _FULL


@contextlib.contextmanager
def stop_when_full(root: Path) -> Iterator[None]:
    """Turn running out of space inside into one :class:`DiskFullError` line.

    The line names the file that could not be written (else ``root``) and says
    how to go on; every write is atomic, so nothing half-written is left.
    """
    try:
        yield
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        raise DiskFullError(
            f"the disk must have space for {exc.filename or root}, but it is full "
            f"({exc.strerror}): finished trials are kept and the trials in flight run "
            "again; free space and run the same command again to resume"
        ) from None


_TEMP_NUMBERS = itertools.count()


def _write_fd(path: str, data: bytes) -> None:
    """Create or truncate ``path``, write ``data`` and fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text(path: Path, text: str, *, atomic: bool = True) -> None:
    """Write ``text`` to ``path``, fsynced: atomically (temp file, fsync, rename), or with
    ``atomic=False`` in place.

    In place is for a file whose completeness another file marks, written
    after it (a trial's ``curves.csv`` before its ``record.json``): no reader
    takes it before the marker, a crash before the marker leaves the trial
    to run again, and a failed write (a full disk) removes the file. It
    saves the temp file and the rename, each a directory update.
    The temp name is this process's (pid and a counter), not
    ``tempfile.mkstemp``'s random one, whose drawing cost as much as the write.
    """
    data = text.encode("utf-8")
    target = str(path)
    tmp = f"{path.parent}/.{path.name}.{os.getpid()}-{next(_TEMP_NUMBERS)}.tmp" if atomic else ""
    try:
        try:
            _write_fd(tmp or target, data)
        except FileNotFoundError:  # the folder is new: make it (not per write, a syscall each)
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_fd(tmp or target, data)
        if tmp:
            os.replace(tmp, target)
    except OSError as exc:
        Path(tmp or target).unlink(missing_ok=True)  # in place too: never left half
        if is_disk_full(exc) and exc.filename in (None, tmp):
            # Name the file the user knows: a write names none, a full temp file its own.
            raise OSError(exc.errno, exc.strerror, target) from None
        raise
    except BaseException:
        Path(tmp or target).unlink(missing_ok=True)
        raise


_ENCODER = json.JSONEncoder(sort_keys=True, allow_nan=True)
json_line = _ENCODER.encode
"""``data`` as one line of JSON with sorted keys (NaN allowed). One encoder for
every call: ``json.dumps`` with options builds a new one each time, which cost
twice the encoding of a record's small values."""


def _key(name: object) -> str:
    text = str(name)
    return f'"{text}"' if text.isascii() and text.isidentifier() else _ENCODER.encode(text)


def json_text(data: Any) -> str:
    """``data`` as JSON with sorted keys: an object one top-level key a line, each value
    on its line.

    ``json.dumps(indent=2)`` runs the pure-Python encoder and put each of a fused
    group's 256 member numbers on a line of its own: it was most of the cost of
    writing a trial's files. Each value here goes through the C encoder.
    """
    if not isinstance(data, dict) or not data:
        return json_line(data) + "\n"
    encode = json_line
    lines = (f"  {_key(k)}: {encode(data[k])}" for k in sorted(data))
    return "{\n" + ",\n".join(lines) + "\n}\n"


def write_json(path: Path, data: Any, *, atomic: bool = True) -> None:
    """Write ``data`` as JSON (:func:`json_text`), fsynced; ``atomic`` as :func:`write_text`."""
    write_text(path, json_text(data), atomic=atomic)


def backup_name(path: Path, kind: str) -> Path:
    """A free name ``<path>.<kind>-<UTC timestamp>`` next to ``path`` for a backup."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    candidate = path.with_name(f"{path.name}.{kind}-{stamp}")
    n = 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.{kind}-{stamp}-{n}")
    return candidate
