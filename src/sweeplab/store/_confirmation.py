"""``confirm.json``: the top configs re-trained after the search, and the winner.

This module is the one reader and writer of the file. The confirmation
workflow (``sweeplab.study``) writes it; the report, ``status`` and
``finalize`` read it through :func:`read_confirmation`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweeplab.errors import StudyError
from sweeplab.store._files import write_json

__all__ = [
    "CONFIRM_FILE",
    "ConfirmCandidate",
    "Confirmation",
    "confirmed_settings",
    "read_confirmation",
    "write_confirmation",
]

CONFIRM_FILE = "confirm.json"


@dataclass(frozen=True)
class ConfirmCandidate:
    """One re-trained candidate of ``confirm.json``: its search and confirmed scores."""

    trial: int
    params: dict[str, Any]
    search_value: float
    search_se: float | None
    search_rank: int
    confirm_value: float
    confirm_se: float | None
    confirm_values: tuple[float, ...]
    confirm_rank: int


@dataclass(frozen=True)
class Confirmation:
    """``runs/<study>/confirm.json``: the top candidates re-trained after the search."""

    objective: str
    direction: str
    repeats: int
    folds_per_repeat: int | None
    candidates: tuple[ConfirmCandidate, ...]
    winner: int

    @property
    def search_best(self) -> int:
        """The trial the search ranked first."""
        return min(self.candidates, key=lambda c: (c.search_rank, c.trial)).trial

    @property
    def changed(self) -> bool:
        """Whether confirmation picked another trial than the search."""
        return self.winner != self.search_best

    def candidate(self, trial: int) -> ConfirmCandidate:
        return next(c for c in self.candidates if c.trial == trial)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def read_confirmation(path: Path) -> Confirmation | None:
    """Read ``confirm.json``; ``None`` when the study has none. Malformed: ``StudyError``."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        candidates = tuple(
            ConfirmCandidate(
                trial=int(c["trial"]),
                params=dict(c.get("params") or {}),
                search_value=float(c["search_value"]),
                search_se=_opt_float(c.get("search_se")),
                search_rank=int(c["search_rank"]),
                confirm_value=float(c["confirm_value"]),
                confirm_se=_opt_float(c.get("confirm_se")),
                confirm_values=tuple(float(v) for v in c.get("confirm_values") or ()),
                confirm_rank=int(c["confirm_rank"]),
            )
            for c in data["candidates"]
        )
        folds = data.get("folds_per_repeat")
        conf = Confirmation(
            objective=str(data["objective"]),
            direction=str(data["direction"]),
            repeats=int(data["repeats"]),
            folds_per_repeat=None if folds is None else int(folds),
            candidates=tuple(sorted(candidates, key=lambda c: (c.confirm_rank, c.trial))),
            winner=int(data["winner"]),
        )
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise StudyError(
            f"{path} must be a confirmation file (objective, direction, repeats, candidates, "
            f"winner), but it cannot be read: {exc!r}"
        ) from None
    if not conf.candidates:
        raise StudyError(f"{path} must list at least one candidate, but it lists none")
    if conf.winner not in {c.trial for c in conf.candidates}:
        raise StudyError(
            f"{path} must name one of its candidates as the winner, but got trial {conf.winner}"
        )
    return conf


def confirmed_settings(path: Path) -> tuple[int, int] | None:
    """``(top, repeats)`` of the confirmation already in ``path``, or ``None``."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return int(data["top"]), int(data["repeats"])
    except (OSError, ValueError, TypeError, KeyError):
        return None


def write_confirmation(path: Path, result: dict[str, Any]) -> None:
    """Write a confirmation (atomically); it must read back with :func:`read_confirmation`."""
    write_json(path, result)
    read_confirmation(path)
