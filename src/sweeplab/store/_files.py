"""Crash-safe file writes: a reader sees the old file or the new one, never half."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sweeplab.errors import DiskFullError

__all__ = ["backup_name", "is_disk_full", "stop_when_full", "write_json", "write_text"]

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


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file, fsync, rename)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except FileNotFoundError:  # the folder is new: make it (not per write, a syscall each)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if is_disk_full(exc) and exc.filename is None:
            # Name the file: a write through a file object does not.
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def json_text(data: Any) -> str:
    """``data`` as JSON with sorted keys: an object one top-level key a line, each value
    on its line.

    ``json.dumps(indent=2)`` runs the pure-Python encoder and put each of a fused
    group's 256 member numbers on a line of its own: it was most of the cost of
    writing a trial's files. Each value here goes through the C encoder.
    """
    if not isinstance(data, dict) or not data:
        return json.dumps(data, sort_keys=True, allow_nan=True) + "\n"
    dumps = json.dumps
    lines = (
        f"  {dumps(str(k))}: {dumps(data[k], sort_keys=True, allow_nan=True)}" for k in sorted(data)
    )
    return "{\n" + ",\n".join(lines) + "\n}\n"


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON (:func:`json_text`), atomically."""
    write_text(path, json_text(data))


def backup_name(path: Path, kind: str) -> Path:
    """A free name ``<path>.<kind>-<UTC timestamp>`` next to ``path`` for a backup."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    candidate = path.with_name(f"{path.name}.{kind}-{stamp}")
    n = 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.{kind}-{stamp}-{n}")
    return candidate
