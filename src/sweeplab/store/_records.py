"""Per-trial records: ``trials/<n>/record.json``, ``curves.csv``, ``confusion.json``."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sweeplab.errors import StudyError
from sweeplab.store._files import write_json, write_text

__all__ = [
    "TrialRecord",
    "read_confusion",
    "read_curves",
    "read_record",
    "trial_name",
    "write_trial",
]

RECORD_VERSION = 1


def trial_name(number: int) -> str:
    """The folder name of trial ``number`` under ``trials/`` (zero-padded to 5 digits)."""
    return f"{number:05d}"


@dataclass
class TrialRecord:
    """Everything known about one finished trial; the source of every table.

    With cross-validation (``data.cv`` / ``data.split_repeats``) ``objective``,
    ``val`` and ``test`` are means over folds, ``objective_se`` is the
    corrected standard error of that mean (Nadeau-Bengio,
    ``sqrt((1/J + n_val/n_train) s²)``), and ``folds`` keeps each fold's
    ``{"fold", "val", "test"}`` (and, from this version, ``n_train``/``n_val``).
    ``n_val`` is the number of validation samples one score was computed on
    (per fold), for a binomial standard
    error when there is only one split. ``threads`` is the CPU thread count of
    the trial's group.
    """

    number: int
    state: str
    params: dict[str, Any]
    seed: int
    point: dict[str, Any] = field(default_factory=dict)
    point_key: str | None = None
    label: str = ""
    reason: str | None = None
    objective: float | None = None
    epochs_trained: int = 0
    train_steps: int = 0
    val: dict[str, float] | None = None
    test: dict[str, float] | None = None
    duration_s: float = 0.0
    group: str = ""
    group_size: int = 1
    group_index: int = 0
    group_members: list[int] = field(default_factory=list)
    started_at: str = ""
    finished_at: str = ""
    version: int = RECORD_VERSION
    values: list[float] | None = None
    user_attrs: dict[str, Any] = field(default_factory=dict)
    objective_se: float | None = None
    n_val: int | None = None
    folds: list[dict[str, Any]] | None = None
    threads: int | None = None
    """CPU intra-op threads the trial's group trained with (``None`` off the CPU),
    so ``reproduce`` trains the group with the same count."""
    lanes: int | None = None
    """Groups the study trained side by side, each in its own worker process with
    one thread, when this trial's group was one of them (``None``: it trained in
    the study's process). Its ``duration_s`` is then wall time shared with them."""
    constraints: list[float] | None = None
    """The values of ``search.constraints`` (Optuna's ``constraints_func``);
    the trial is feasible when all are <= 0. ``None`` without constraints."""

    @property
    def feasible(self) -> bool:
        """Whether every constraint holds (a trial without constraints is feasible)."""
        return self.constraints is None or all(c <= 0.0 for c in self.constraints)

    @property
    def config_key(self) -> str:
        """The configuration the trial ran: its point key without the ``#repeat``.

        Seed repeats of one design point share it; sampled trials have no
        point key, so each is its own configuration.
        """
        if self.point_key:
            return self.point_key.rsplit("#", 1)[0]
        return f"trial {self.number}"

    def to_dict(self) -> dict[str, Any]:
        """The fields as the JSON object of ``record.json``.

        Shallow (the values are shared, not copied): it is serialized at once,
        and ``asdict``'s deep copy was a third of a trial's bookkeeping.
        """
        return {f.name: getattr(self, f.name) for f in fields(self)}


def write_trial(
    trial_dir: Path,
    record: TrialRecord,
    curves: list[dict[str, float]],
    confusion: dict[str, Any] | None,
) -> dict[str, Any]:
    """Write a trial's files; ``record.json`` last, so its presence means complete.

    ``curves.csv`` and ``confusion.json`` are written in place (fsynced, not
    renamed): ``record.json`` marks them complete. Returns the record as
    written, for the index (``StudyDir.write_trial``).
    """
    if curves:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(curves[0]), lineterminator="\n")
        writer.writeheader()
        for row in curves:
            writer.writerow({k: (int(v) if k == "epoch" else repr(v)) for k, v in row.items()})
        write_text(trial_dir / "curves.csv", buf.getvalue(), atomic=False)
    if confusion is not None:
        write_json(trial_dir / "confusion.json", confusion, atomic=False)
    data = record.to_dict()
    write_json(trial_dir / "record.json", data)
    return data


def read_record(trial_dir: Path) -> TrialRecord | None:
    """The record in ``trial_dir``, or ``None`` when the trial never finished."""
    path = trial_dir / "record.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return TrialRecord(**data)
    except (OSError, ValueError, TypeError) as exc:
        raise StudyError(f"{path} must be a trial record, but it cannot be read: {exc}") from None


def read_confusion(trial_dir: Path) -> dict[str, Any] | None:
    """``confusion.json`` (``classes``, ``val`` and ``test`` matrices), or ``None`` without one."""
    path = trial_dir / "confusion.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StudyError(
            f"{path} must be a confusion matrix, but it cannot be read: {exc}"
        ) from None
    if not isinstance(data, dict) or "classes" not in data:
        raise StudyError(f"{path} must hold classes and matrices, but does not")
    return data


def read_curves(trial_dir: Path) -> list[dict[str, float]]:
    """The per-epoch rows of ``curves.csv`` (empty when the trial has none)."""
    path = trial_dir / "curves.csv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)]
