"""The tracker contract: where trials are logged besides the store."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sweeplab.store import TrialRecord

__all__ = ["Tracker"]


class Tracker(ABC):
    """Receives the events of every trial: start, epochs, artifacts, end.

    The runner calls, per trial and in this order: ``trial_started`` once,
    ``epoch_logged`` for the epochs it sees while the trial trains (not
    necessarily all of them: the last epoch and a failing epoch arrive only in
    the curves), ``trial_artifacts`` once the trial's files are stored, and
    ``log_trial`` with the final record and every epoch's row. Only
    ``log_trial`` is required; a tracker that logs epochs live uses the curves
    to fill in the epochs it has not seen.

    Contract: a tracker must not raise for a trial it cannot log (it logs a
    warning instead), since the study's own record is already durable, and
    ``close`` flushes everything written. The runner wraps trackers in
    :class:`~sweeplab.track.AsyncTracker`, so none of these calls runs on the
    training thread.
    """

    def trial_started(  # noqa: B027 - optional hook
        self, number: int, params: Mapping[str, Any], seed: int
    ) -> None:
        """A trial begins training with ``params`` and ``seed``."""

    def epoch_logged(self, number: int, row: Mapping[str, float]) -> None:  # noqa: B027
        """One epoch of a training trial: ``row`` as in ``curves.csv`` (``epoch`` is the step)."""

    def trial_artifacts(self, number: int, files: Mapping[str, Path]) -> None:  # noqa: B027
        """The trial's stored files by name (``curves.csv``, ``confusion.json``, ...)."""

    @abstractmethod
    def log_trial(self, record: TrialRecord, curves: list[dict[str, float]]) -> None:
        """Log one finished (complete, pruned or failed) trial and its epochs."""

    def close(self) -> None:  # noqa: B027 - most trackers hold nothing open
        """Flush and release resources."""
