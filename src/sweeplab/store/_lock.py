"""A journal lock the operating system releases when its holder dies.

Optuna's default journal locks are files that a killed process leaves
behind; the next run then waits out a grace period. ``flock`` locks vanish
with the process, so ``kill -9`` at any moment never blocks a resume.
"""

from __future__ import annotations

import fcntl
import os

from optuna.storages.journal._file import BaseJournalFileLock

__all__ = ["FlockLock"]


class FlockLock(BaseJournalFileLock):
    """An exclusive ``flock`` on ``<journal>.lock`` (local file systems)."""

    def __init__(self, journal_path: str) -> None:
        self._path = journal_path + ".lock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
