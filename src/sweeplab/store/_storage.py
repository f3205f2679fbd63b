"""Opening a study's Optuna storage: the journal file in its directory, or an RDB URL.

This is the one place that opens storage, so every command (run, worker,
reproduce, dashboard) sees the same trials with the same crash-safe lock.

A journal whose last append was torn (a power cut, a full disk, a network
file system that lost part of a write) is repaired here on open: the
unreadable tail is cut, after a backup of the whole file, and a warning
names the bytes dropped. The trials those entries described are settled
from their records by the runner. Damage in the middle of the journal is
not guessed at: it is refused in one line naming ``sweeplab doctor``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import optuna
from optuna.storages.journal import JournalFileBackend

from sweeplab.errors import SpecError, StudyError
from sweeplab.store._files import backup_name
from sweeplab.store._lock import FlockLock
from sweeplab.store._retry import open_rdb

__all__ = [
    "JOURNAL_FILE",
    "journal_ends_clean",
    "open_journal",
    "open_storage",
    "repair_journal_tail",
    "stored_trial_count",
]

JOURNAL_FILE = "optuna.log"

_log = logging.getLogger(__name__)


def open_storage(root: Path, url: str | None = None) -> optuna.storages.BaseStorage:
    """The storage of the study in ``root``: ``url`` (``study.storage``) or its journal.

    The journal uses an ``flock`` lock that the OS drops when its holder dies,
    so a killed process never blocks the next run; a torn tail is repaired
    first (:func:`repair_journal_tail`).
    """
    if url:
        try:
            return open_rdb(url)
        except ImportError:
            raise SpecError(
                "study.storage must name a database whose driver is installed, but the driver "
                f"for {url.split(':', 1)[0]!r} is missing: "
                "pip install 'sweeplab[postgres]' (or the driver of your database)"
            ) from None
    path = root / JOURNAL_FILE
    lock = FlockLock(str(path))
    lock.acquire()
    try:
        repair_journal_tail(path)
    finally:
        lock.release()
    return open_journal(path)


def open_journal(path: Path) -> optuna.storages.JournalStorage:
    """The journal storage at ``path``, read once; damage that remains is one clear error."""
    try:
        return optuna.storages.JournalStorage(
            JournalFileBackend(str(path), lock_obj=FlockLock(str(path)))
        )
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise StudyError(
            f"{path} must be a readable Optuna journal, but an entry in its middle is "
            f"damaged ({exc}); run `sweeplab doctor {path.parent}` to rebuild the storage "
            "from the trial records"
        ) from None


def _readable(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _good_length(data: bytes) -> int:
    """The length of the longest prefix of ``data`` that ends with a readable, whole line."""
    end = data.rfind(b"\n") + 1  # a partial last line (no newline) is torn
    while end > 0:
        start = data.rfind(b"\n", 0, end - 1) + 1
        if _readable(data[start:end]):
            return end
        end = start
    return 0


def repair_journal_tail(path: Path) -> int:
    """Cut a torn tail off the journal at ``path``; return how many bytes were dropped.

    The tail is torn when the file does not end with a newline or its last
    lines are not JSON objects. The original is copied to
    ``<path>.torn-<timestamp>`` before the cut, and a warning names the bytes
    dropped. Call it with the journal's lock held, so no append is in flight.
    """
    if not path.exists():
        return 0
    data = path.read_bytes()
    keep = _good_length(data)
    dropped = len(data) - keep
    if dropped == 0:
        return 0
    if keep == 0:
        raise StudyError(
            f"{path} must be an Optuna journal, but no entry of it can be read; run "
            f"`sweeplab doctor {path.parent}` to rebuild the storage from the trial records"
        )
    backup = backup_name(path, "torn")
    shutil.copy2(path, backup)
    with path.open("r+b") as fh:
        fh.truncate(keep)
        fh.flush()
        os.fsync(fh.fileno())
    _log.warning(
        "%s: cut %d unreadable byte(s) off its end (bytes %d-%d, a torn append); the original "
        "is kept as %s; trials with a record are settled from it, the rest run again",
        path,
        dropped,
        keep,
        len(data) - 1,
        backup.name,
    )
    return dropped


def journal_ends_clean(path: Path) -> bool:
    """Whether the journal at ``path`` is missing, empty or ends with a whole line.

    After a failed append (a full disk) a partial line may end it; appending
    more would bury that line in the middle, so the writer stops instead and
    the next open cuts it (:func:`repair_journal_tail`).
    """
    try:
        with path.open("rb") as fh:
            if fh.seek(0, os.SEEK_END) == 0:
                return True
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) == b"\n"
    except FileNotFoundError:
        return True


def stored_trial_count(storage: optuna.storages.BaseStorage, name: str) -> int:
    """How many trials study ``name`` already has in ``storage`` (0 when it is new)."""
    try:
        summaries = optuna.get_all_study_summaries(storage)
    except Exception:
        return 0
    return next((s.n_trials for s in summaries if s.study_name == name), 0)
