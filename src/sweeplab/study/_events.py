"""Progress events of a running study, for the CLI's progress bar (the library never prints)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sweeplab.store import TrialRecord

__all__ = ["Callback", "RunEvent"]


@dataclass(frozen=True)
class RunEvent:
    """Progress of a run: ``done`` of ``total`` trials (or candidates, for ``confirm``)."""

    kind: Literal["start", "trial", "confirm", "end"]
    done: int
    total: int
    best: float | None = None
    record: TrialRecord | None = None


Callback = Callable[[RunEvent], None]
