"""Ctrl-C that cannot be lost.

Python raises ``KeyboardInterrupt`` wherever the main thread happens to be;
when that is a finalizer or a callback run from C, the exception is printed
as "ignored" and the run goes on as if nothing happened. The handler here
also records the request, and the runner re-raises it at its own safe points
(after each epoch and each finished trial), so one Ctrl-C always stops a run.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["check", "handling_sigint"]

_requested = threading.Event()


def _handler(signum: int, frame: FrameType | None) -> None:
    _requested.set()
    raise KeyboardInterrupt


def check() -> None:
    """Raise ``KeyboardInterrupt`` if a Ctrl-C arrived under :func:`handling_sigint`."""
    if _requested.is_set():
        raise KeyboardInterrupt


@contextlib.contextmanager
def handling_sigint() -> Iterator[None]:
    """Record SIGINT while the block runs (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _requested.clear()
    previous = signal.signal(signal.SIGINT, _handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _requested.clear()
