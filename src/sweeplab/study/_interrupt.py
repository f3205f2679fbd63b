"""Ctrl-C and SIGTERM that cannot be lost.

Python raises ``KeyboardInterrupt`` wherever the main thread happens to be;
when that is a finalizer or a callback run from C, the exception is printed
as "ignored" and the run goes on as if nothing happened. The handler here
also records the request, and the runner re-raises it at its own safe points
(after each epoch and each finished trial), so one Ctrl-C always stops a run.

SIGTERM, with which schedulers (Slurm, Kubernetes, systemd) stop a job, is
handled the same way: finished trials are kept, the group in flight is
marked interrupted, and :func:`exit_code` gives the conventional
``128 + signal`` (130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["SIGNALS", "check", "exit_code", "handling_sigint", "handling_signals"]

#: The signals that stop a run cleanly.
SIGNALS = (signal.SIGINT, signal.SIGTERM)

_requested = threading.Event()
_received: list[int] = []


def _handler(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    _requested.set()
    raise KeyboardInterrupt


def check() -> None:
    """Raise ``KeyboardInterrupt`` if a stop signal arrived under :func:`handling_signals`."""
    if _requested.is_set():
        raise KeyboardInterrupt


def exit_code() -> int:
    """``128 + signal`` of the first stop signal received in the last handled block.

    130 (SIGINT) when none was recorded: a ``KeyboardInterrupt`` then came from
    Python itself, which is Ctrl-C.
    """
    return 128 + (_received[0] if _received else int(signal.SIGINT))


@contextlib.contextmanager
def handling_signals() -> Iterator[None]:
    """Record SIGINT and SIGTERM while the block runs (main thread only; elsewhere a no-op).

    Both raise ``KeyboardInterrupt`` at once and again at the runner's next
    safe point. The signal received stays known to :func:`exit_code` after
    the block, until the next block starts.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _requested.clear()
    _received.clear()
    previous = {signum: signal.signal(signum, _handler) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _requested.clear()


#: The older name: SIGTERM is handled too.
handling_sigint = handling_signals
