"""Run a tracker on a background thread so training never waits on it."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sweeplab.store import TrialRecord
from sweeplab.track._base import Tracker

__all__ = ["AsyncTracker"]

_log = logging.getLogger(__name__)
_STOP = object()


class AsyncTracker(Tracker):
    """Queues every event and hands it to the wrapped tracker on one worker thread.

    The wrapped tracker is built by ``factory`` on the worker thread, so slow
    imports and connections (MLflow, W&B) do not delay the first epoch. Events
    keep their order. An event that raises is logged as a warning and dropped;
    if the factory raises, the tracker is disabled with one warning. ``close``
    blocks until every queued event is handled, then closes the wrapped tracker.
    """

    def __init__(self, factory: Callable[[], Tracker], name: str) -> None:
        self.name = name
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._factory = factory
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=f"sweeplab-{name}", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        try:
            inner: Tracker | None = self._factory()
        except Exception as exc:
            _log.warning("%s: tracking disabled: %s", self.name, exc)
            inner = None
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            if inner is None:
                continue
            method, args = item
            try:
                getattr(inner, method)(*args)
            except Exception as exc:
                _log.warning("%s: %s failed: %s", self.name, method, exc)
        if inner is not None:
            try:
                inner.close()
            except Exception as exc:
                _log.warning("%s: close failed: %s", self.name, exc)

    def _put(self, method: str, *args: Any) -> None:
        if self._closed:
            raise RuntimeError(f"tracker {self.name!r} must be open, but it was closed")
        self._queue.put((method, args))

    def trial_started(self, number: int, params: Mapping[str, Any], seed: int) -> None:
        self._put("trial_started", number, dict(params), seed)

    def epoch_logged(self, number: int, row: Mapping[str, float]) -> None:
        self._put("epoch_logged", number, dict(row))

    def trial_artifacts(self, number: int, files: Mapping[str, Path]) -> None:
        self._put("trial_artifacts", number, dict(files))

    def log_trial(self, record: TrialRecord, curves: list[dict[str, float]]) -> None:
        self._put("log_trial", record, [dict(row) for row in curves])

    def close(self) -> None:
        """Drain the queue and close the wrapped tracker (idempotent)."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join()
