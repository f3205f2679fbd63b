"""The study directory: paths, the summary table and reading a study back."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import tomllib

from sweeplab.errors import StudyError
from sweeplab.spec import MAX_DEPTH, StudySpec, param_names, spec_from_dict
from sweeplab.store._confirmation import CONFIRM_FILE
from sweeplab.store._files import write_text
from sweeplab.store._records import TrialRecord, read_record
from sweeplab.store._storage import JOURNAL_FILE, backup_name

__all__ = ["Damaged", "Study", "StudyDir", "best_record", "load_study", "summary_frame"]

_log = logging.getLogger(__name__)

_PARAM_ORDER = [p for p in param_names() if p != "units"]


@dataclass(frozen=True)
class Damaged:
    """A trial record that could not be read, kept in ``quarantine/`` (never deleted)."""

    number: int
    path: Path


@dataclass(frozen=True)
class StudyDir:
    """Paths inside ``runs/<study>/``."""

    root: Path

    @property
    def spec_file(self) -> Path:
        return self.root / "study.toml"

    @property
    def provenance(self) -> Path:
        return self.root / "provenance.json"

    @property
    def journal(self) -> Path:
        return self.root / JOURNAL_FILE

    @property
    def confirmation(self) -> Path:
        return self.root / CONFIRM_FILE

    @property
    def trials(self) -> Path:
        return self.root / "trials"

    @property
    def summary(self) -> Path:
        return self.root / "summary.csv"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    def read_spec(self, overrides: Iterable[str] = ()) -> StudySpec:
        """The resolved ``study.toml`` (plus ``overrides``); a missing one is a ``StudyError``."""
        if not self.spec_file.exists():
            raise StudyError(
                f"study directory must hold a study.toml, but {self.spec_file} was not found"
            )
        return spec_from_dict(tomllib.loads(self.spec_file.read_text(encoding="utf-8")), overrides)

    def trial(self, number: int) -> Path:
        return self.trials / f"{number:05d}"

    def records(self) -> list[TrialRecord]:
        """Every finished trial's readable record, by trial number.

        An unreadable record is moved to ``quarantine/`` (see :meth:`damaged`)
        instead of blocking the study: its trial runs again on resume, and
        every other trial stays usable.
        """
        if not self.trials.is_dir():
            return []
        out: list[TrialRecord] = []
        for trial_dir in sorted(self.trials.iterdir()):
            if not trial_dir.is_dir():
                continue
            try:
                record = read_record(trial_dir)
            except StudyError as exc:
                self._quarantine(trial_dir, str(exc))
                continue
            if record is not None:
                out.append(record)
        return sorted(out, key=lambda r: r.number)

    def _quarantine(self, trial_dir: Path, why: str) -> None:
        """Move ``trial_dir``'s unreadable ``record.json`` aside, keeping its bytes."""
        self.quarantine.mkdir(exist_ok=True)
        target = self.quarantine / f"{trial_dir.name}-record.json"
        if target.exists():
            target = backup_name(target, "again")
        try:
            os.rename(trial_dir / "record.json", target)
        except FileNotFoundError:
            return  # another process moved it first
        _log.warning("%s; moved to %s; the trial runs again when the study resumes", why, target)

    def damaged(self) -> list[Damaged]:
        """The records moved to ``quarantine/`` because they could not be read."""
        if not self.quarantine.is_dir():
            return []
        found = []
        for path in sorted(self.quarantine.iterdir()):
            head = path.name.split("-", 1)[0]
            if head.isdigit() and "-record.json" in path.name:
                found.append(Damaged(int(head), path))
        return found

    def write_summary(self, records: list[TrialRecord]) -> pd.DataFrame:
        frame = summary_frame(records)
        write_text(self.summary, frame.to_csv(index=False))
        return frame


def summary_frame(records: list[TrialRecord]) -> pd.DataFrame:
    """One row per trial: parameters, metrics, state, duration."""
    rows: list[dict[str, Any]] = []
    depth_max = max((int(r.params.get("depth", 1)) for r in records), default=1)
    for r in records:
        row: dict[str, Any] = {"trial": r.number, "state": r.state, "label": r.label}
        depth = int(r.params.get("depth", 1))
        if "depth" not in r.params:
            # A user's own objective: its parameters are whatever it suggested.
            row.update(r.params)
        for name in _PARAM_ORDER if "depth" in r.params else ():
            if name.startswith("units") and name[5:].isdigit():
                layer = int(name[5:])
                if layer > min(depth_max, MAX_DEPTH):
                    continue
                row[name] = r.params.get(name) if layer <= depth else None
            else:
                row[name] = r.params.get(name)
        row.update(
            {
                "seed": r.seed,
                "repeat": r.point_key.rsplit("#", 1)[-1] if r.point_key else None,
                "epochs_trained": r.epochs_trained,
                "train_steps": r.train_steps,
                "objective": r.objective,
                "objective_se": r.objective_se,
                "n_val": r.n_val,
                "folds": len(r.folds) if r.folds else None,
            }
        )
        for i, value in enumerate(r.values or []):
            row[f"value_{i}"] = value
        for key, value in r.user_attrs.items():
            row[f"user_attrs_{key}"] = value
        for split in ("val", "test"):
            for key, value in (getattr(r, split) or {}).items():
                row[f"{split}_{key}"] = value
        row.update(
            {
                "duration_s": r.duration_s,
                "group": r.group,
                "group_size": r.group_size,
                "reason": r.reason,
            }
        )
        rows.append(row)
    frame = pd.DataFrame(rows)
    if not rows:
        frame = pd.DataFrame(columns=["trial", "state"])
    return frame


def best_record(records: list[TrialRecord], *, maximize: bool) -> TrialRecord | None:
    """The first trial of the configuration with the best mean objective (see ``Study.best``)."""
    groups: dict[str, list[TrialRecord]] = {}
    for r in sorted(records, key=lambda r: r.number):
        if r.state == "complete" and r.objective is not None:
            groups.setdefault(r.config_key, []).append(r)
    if not groups:
        return None
    sign = 1.0 if maximize else -1.0

    def score(members: list[TrialRecord]) -> tuple[float, int]:
        mean = sum(float(r.objective or 0.0) for r in members) / len(members)
        return (sign * mean, -members[0].number)

    return max(groups.values(), key=score)[0]


class Study:
    """A study directory read back: its spec, records and summary table."""

    def __init__(self, path: str | Path) -> None:
        root = Path(path)
        self.dir = StudyDir(root)
        if not self.dir.spec_file.exists():
            raise StudyError(
                f"{root} must be a study directory with a study.toml, but none was found"
            )

    @cached_property
    def spec(self) -> StudySpec:
        """The resolved study file the study ran with."""
        return self.dir.read_spec()

    @property
    def name(self) -> str:
        return self.spec.study.name

    def records(self) -> list[TrialRecord]:
        return self.dir.records()

    def damaged(self) -> list[Damaged]:
        """Records that could not be read, kept in ``quarantine/``; their trials ran again."""
        return self.dir.damaged()

    def trials(self) -> pd.DataFrame:
        """The summary table, rebuilt from the trial records."""
        return summary_frame(self.records())

    def best(self) -> TrialRecord | None:
        """The trial of the best configuration by validation objective (never test).

        This is the one definition of "best" that ``status``, ``finalize``,
        ``reproduce``, the report and confirmation share: seed repeats of one
        configuration (``study.repeats > 1``) are ranked by their mean, and the
        configuration's first trial stands for it; without repeats it is the
        best trial. Ties go to the lower trial number.
        """
        return best_record(self.records(), maximize=self.spec.direction == "maximize")


def load_study(path: str | Path) -> Study:
    """Open a study directory written by :func:`sweeplab.run`."""
    return Study(path)
