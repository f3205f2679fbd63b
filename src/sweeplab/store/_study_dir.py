"""The study directory: paths, the summary table and reading a study back."""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomllib

from sweeplab.errors import StudyError
from sweeplab.spec import StudySpec, spec_from_dict
from sweeplab.store._confirmation import CONFIRM_FILE
from sweeplab.store._files import backup_name
from sweeplab.store._index import (
    SUMMARY_FILE,
    append_index,
    index_missing,
    read_index,
    summary_rows,
)
from sweeplab.store._records import TrialRecord, read_record, trial_name, write_trial

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Damaged", "Study", "StudyDir", "best_record", "load_study", "summary_frame"]

_log = logging.getLogger(__name__)


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
        from sweeplab.store._storage import JOURNAL_FILE  # imports Optuna: only when asked

        return self.root / JOURNAL_FILE

    @property
    def confirmation(self) -> Path:
        return self.root / CONFIRM_FILE

    @property
    def trials(self) -> Path:
        return self.root / "trials"

    @property
    def summary(self) -> Path:
        return self.root / SUMMARY_FILE

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
        return self.trials / trial_name(number)

    def _trial_dirs(self) -> set[str]:
        """The names of the folders under ``trials/`` (one directory listing, no file opened)."""
        if not self.trials.is_dir():
            return set()
        with os.scandir(self.trials) as entries:
            return {e.name for e in entries if e.is_dir()}

    def _unindexed(self, indexed: Collection[int], names: set[str]) -> list[TrialRecord]:
        """The records of trial folders the index does not name, read one by one."""
        known = {trial_name(n) for n in indexed}
        out: list[TrialRecord] = []
        for name in sorted(names - known):
            try:
                record = read_record(self.trials / name)
            except StudyError as exc:
                self._quarantine(self.trials / name, str(exc))
                continue
            if record is not None:
                out.append(record)
        return out

    def trial_output(self, number: int) -> tuple[Path, Path]:
        """A script trial's captured ``stdout.log`` and ``stderr.log``; its offline W&B
        run files go under the trial's directory too (``WANDB_DIR``, ``wandb/``)."""
        trial = self.trial(number)
        return trial / "stdout.log", trial / "stderr.log"

    def records(self) -> list[TrialRecord]:
        """Every finished trial's readable record, by trial number.

        Read from ``index.jsonl`` in one pass; only folders the index does not
        name (a line lost to a crash, a study older than the index) or whose
        ``record.json`` changed since it was indexed (a ``stat``, no open) are
        read from their ``record.json``. A record whose folder is gone is dropped.
        An unreadable record is moved to ``quarantine/`` (see :meth:`damaged`)
        instead of blocking the study: its trial runs again on resume, and
        every other trial stays usable.
        """
        names = self._trial_dirs()
        indexed = read_index(self.root)
        out = [r for n, r in indexed.items() if trial_name(n) in names]
        out += self._unindexed(indexed, names)
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

    def write_trial(
        self,
        record: TrialRecord,
        curves: list[dict[str, float]],
        confusion: dict[str, Any] | None,
        *,
        index: bool = True,
    ) -> dict[str, Any]:
        """Write a finished trial's files (``record.json`` last), then index it.

        With ``index=False`` the caller indexes it later with others
        (:meth:`index`); returns the record as written, for that.
        """
        data = write_trial(self.trial(record.number), record, curves, confusion)
        if index:
            append_index(self.root, [(record, data)])
        return data

    def index(self, written: list[tuple[TrialRecord, dict[str, Any]]]) -> None:
        """Add trials whose files :meth:`write_trial` wrote to the index and summary
        (a batch at once: one locked write of each file)."""
        append_index(self.root, written)

    def sync_index(self, skip: Collection[int] = ()) -> None:
        """Index the finished trials the index misses, then rewrite ``summary.csv`` from it.

        Runs once per run, under the claim lock. ``skip`` are trials another
        live process owns (running, or told and not yet indexed: a runner indexes
        its batch after training it): it indexes them itself.
        """
        names = self._trial_dirs()
        indexed = read_index(self.root)
        missing = [r for r in self._unindexed(indexed, names) if r.number not in skip]
        index_missing(self.root, missing)


def summary_frame(records: list[TrialRecord]) -> pd.DataFrame:
    """One row per trial: parameters, metrics, state, duration (the rows of ``summary.csv``)."""
    import pandas as pd  # only the commands that build a table pay for pandas

    columns, rows = summary_rows(records)
    return pd.DataFrame(rows, columns=columns)


def best_record(records: list[TrialRecord], *, maximize: bool) -> TrialRecord | None:
    """The first trial of the configuration with the best mean objective (see ``Study.best``).

    Infeasible trials (a ``search.constraints`` value > 0) are never best, as
    Optuna's ``best_trial`` of a constrained study is its best feasible trial.
    """
    groups: dict[str, list[TrialRecord]] = {}
    for r in sorted(records, key=lambda r: r.number):
        if r.state == "complete" and r.objective is not None and r.feasible:
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
        """The summary table (the rows of ``summary.csv``), built from the index."""
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
