"""The event log ``runs/<study>/events.jsonl``: always on, read by the live view.

One JSON object per line: ``{"event": "start", "trial": 3, "params": ..., "seed":
..., "pid": ..., "host": ..., "time": ...}``, ``{"event": "epoch", "trial": 3,
"row": {...}}`` and ``{"event": "end", "trial": 3, "state": "complete",
"objective": ...}``. The trial records stay the source of truth for finished
trials; this log adds what only a live run knows: which trials are training
and their latest epoch.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sweeplab.store import TrialRecord
from sweeplab.track._base import Tracker

__all__ = ["EVENTS_FILE", "EventLogTracker", "LiveTrial", "read_live"]

EVENTS_FILE = "events.jsonl"


class EventLogTracker(Tracker):
    """Appends every event as one JSON line to ``<study>/events.jsonl``."""

    def __init__(self, root: Path) -> None:
        self.path = root / EVENTS_FILE
        root.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] | None = self.path.open("a", encoding="utf-8")
        self._host = socket.gethostname()

    def _write(self, event: dict[str, Any]) -> None:
        if self._fh is None:
            raise RuntimeError(f"event log {self.path} must be open, but it was closed")
        event["time"] = round(time.time(), 3)
        self._fh.write(json.dumps(event, allow_nan=True) + "\n")
        self._fh.flush()

    def trial_started(self, number: int, params: Mapping[str, Any], seed: int) -> None:
        self._write(
            {
                "event": "start",
                "trial": number,
                "params": dict(params),
                "seed": seed,
                "pid": os.getpid(),
                "host": self._host,
            }
        )

    def epoch_logged(self, number: int, row: Mapping[str, float]) -> None:
        self._write({"event": "epoch", "trial": number, "row": dict(row)})

    def log_trial(self, record: TrialRecord, curves: list[dict[str, float]]) -> None:
        self._write(
            {
                "event": "end",
                "trial": record.number,
                "state": record.state,
                "objective": record.objective,
                "epochs": record.epochs_trained,
            }
        )

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


@dataclass
class LiveTrial:
    """A trial that started and has not ended, as the event log tells it."""

    number: int
    params: dict[str, Any]
    seed: int
    started: float
    last: dict[str, float] = field(default_factory=dict)


def _alive(host: str | None, pid: int | None) -> bool:
    if host != socket.gethostname() or pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_live(root: Path) -> list[LiveTrial]:
    """Trials training now: started, not ended, and their process still alive."""
    path = root / EVENTS_FILE
    if not path.exists():
        return []
    live: dict[int, LiveTrial] = {}
    owners: dict[int, tuple[str | None, int | None]] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a line being written right now
            number = int(event.get("trial", -1))
            kind = event.get("event")
            if kind == "start":
                live[number] = LiveTrial(
                    number, event.get("params", {}), int(event.get("seed", 0)), event["time"]
                )
                owners[number] = (event.get("host"), event.get("pid"))
            elif kind == "epoch" and number in live:
                live[number].last = event.get("row", {})
            elif kind == "end":
                live.pop(number, None)
    return [t for n, t in sorted(live.items()) if _alive(*owners[n])]
