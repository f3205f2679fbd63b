"""Opening a study's Optuna storage: the journal file in its directory, or an RDB URL.

This is the one place that opens storage, so every command (run, worker,
reproduce, dashboard) sees the same trials with the same crash-safe lock.
"""

from __future__ import annotations

from pathlib import Path

import optuna
from optuna.storages.journal import JournalFileBackend

from sweeplab.errors import SpecError
from sweeplab.store._lock import FlockLock

__all__ = ["JOURNAL_FILE", "open_storage", "stored_trial_count"]

JOURNAL_FILE = "optuna.log"


def open_storage(root: Path, url: str | None = None) -> optuna.storages.BaseStorage:
    """The storage of the study in ``root``: ``url`` (``study.storage``) or its journal.

    The journal uses an ``flock`` lock that the OS drops when its holder dies,
    so a killed process never blocks the next run.
    """
    if url:
        try:
            return optuna.storages.RDBStorage(url)
        except ImportError:
            raise SpecError(
                "study.storage must name a database whose driver is installed, but the driver "
                f"for {url.split(':', 1)[0]!r} is missing: "
                "pip install 'sweeplab[postgres]' (or the driver of your database)"
            ) from None
    path = str(root / JOURNAL_FILE)
    return optuna.storages.JournalStorage(JournalFileBackend(path, lock_obj=FlockLock(path)))


def stored_trial_count(storage: optuna.storages.BaseStorage, name: str) -> int:
    """How many trials study ``name`` already has in ``storage`` (0 when it is new)."""
    try:
        summaries = optuna.get_all_study_summaries(storage)
    except Exception:
        return 0
    return next((s.n_trials for s in summaries if s.study_name == name), 0)
