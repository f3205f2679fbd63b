"""Which processes work on a study: heartbeats, liveness, and the claim lock.

Every running process owns the trials it started, as ``host:pid:token``,
and touches ``workers/<host>-<pid>-<token>`` every few seconds. A trial left
RUNNING by an owner that is gone (its pid is dead on this host, or its
heartbeat is stale anywhere) is safe to settle and re-run. New trials are
created under an exclusive lock, so processes sharing one study never plan
the same grid point twice or overrun the budget.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["HEARTBEAT_TIMEOUT_S", "Heartbeat", "claim_lock", "live_owners", "owner_alive"]

HEARTBEAT_INTERVAL_S = 5.0
HEARTBEAT_TIMEOUT_S = 60.0


def _beat_file(root: Path, owner: str) -> Path:
    return root / "workers" / owner.replace(":", "-")


class Heartbeat:
    """Announces that this process is alive while it works on a study."""

    def __init__(self, root: Path, interval: float = HEARTBEAT_INTERVAL_S) -> None:
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.path = _beat_file(root, self.owner)
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()
        self._thread = threading.Thread(target=self._run, name="sweeplab-heartbeat", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            with contextlib.suppress(OSError):
                os.utime(self.path)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * self._interval)
        self.path.unlink(missing_ok=True)


def owner_alive(root: Path, owner: str | None, me: str | None = None) -> bool:
    """Whether the process ``owner`` may still be working on its trials."""
    if not owner:
        return False
    if owner == me:
        return True
    parts = owner.split(":")
    if len(parts) < 2 or not parts[1].isdigit():
        return False
    host, pid = parts[0], int(parts[1])
    beat = _beat_file(root, owner)
    if host == socket.gethostname():
        if pid == os.getpid() and owner != me:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return not _zombie(pid) and (len(parts) < 3 or beat.exists())
    try:
        return time.time() - beat.stat().st_mtime < HEARTBEAT_TIMEOUT_S
    except OSError:
        return False


def _zombie(pid: int) -> bool:
    """Whether ``pid`` has exited but was not reaped yet (``os.kill`` still finds it).

    A Ray actor that dies with its node is re-parented; where nothing reaps it (a
    container whose init does not), it stays a zombie that must not count as alive.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] in (["Z"], ["X"])


def live_owners(root: Path) -> list[str]:
    """The owners whose heartbeat files say they still work on the study in ``root``."""
    beats = root / "workers"
    if not beats.is_dir():
        return []
    owners = []
    for beat in sorted(beats.iterdir()):
        parts = beat.name.rsplit("-", 2)
        owner = ":".join(parts)
        if len(parts) == 3 and owner_alive(root, owner):
            owners.append(owner)
    return owners


@contextlib.contextmanager
def claim_lock(root: Path) -> Iterator[None]:
    """Hold the study's exclusive claim lock (released by the OS if we die)."""
    fd = os.open(root / "claim.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
