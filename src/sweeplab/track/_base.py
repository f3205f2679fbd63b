"""The tracker contract: where finished trials are logged besides the store."""

from __future__ import annotations

from abc import ABC, abstractmethod

from sweeplab.store import TrialRecord

__all__ = ["Tracker"]


class Tracker(ABC):
    """Receives every finished trial once, after it is safely stored.

    Contract: a tracker must not raise for a trial it cannot log (it logs a
    warning instead), since the study's own record is already durable, and
    ``close`` flushes everything written.
    """

    @abstractmethod
    def log_trial(self, record: TrialRecord, curves: list[dict[str, float]]) -> None:
        """Log one finished (complete, pruned or failed) trial and its epochs."""

    def close(self) -> None:  # noqa: B027 - most trackers hold nothing open
        """Flush and release resources."""
