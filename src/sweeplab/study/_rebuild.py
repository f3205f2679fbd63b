"""Storage rebuilt from records: trials the storage lost are told again from ``record.json``.

A record is written before its trial is told to Optuna, so the records are
the ground truth of what finished. When the storage lost entries (a torn
journal tail cut on open, a journal rebuilt by ``sweeplab doctor``), the
trials those entries described are added back from their records, with the
same numbers; a number with no record is added as interrupted (FAIL with
``sweeplab.interrupted``), so it does not count and its point runs again.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState

from sweeplab.errors import RefusedError, StudyError
from sweeplab.search import DESIGN_STRATEGIES, axis_values, design_points, distributions
from sweeplab.spec import StudySpec, directions_of
from sweeplab.store import (
    JOURNAL_FILE,
    FlockLock,
    Study,
    StudyDir,
    TrialRecord,
    backup_name,
    claim_lock,
    journal_ends_clean,
    live_owners,
    open_journal,
    read_record,
)
from sweeplab.study._attrs import (
    ATTR_CONFIG,
    ATTR_INTERRUPTED,
    ATTR_OWNER,
    ATTR_POINT,
    ATTR_REASON,
    ATTR_SEED,
)

__all__ = [
    "doctor",
    "give_back",
    "record_values",
    "retell_missing",
    "search_distributions",
    "settle_orphans",
]

_log = logging.getLogger(__name__)

_STATES = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED}


def search_distributions(spec: StudySpec) -> dict[str, BaseDistribution]:
    """One distribution per searched name, the same for every trial of the study.

    Sampled strategies use the space's distributions; planned designs one
    categorical per name holding every value a point takes. Objective studies
    have none: the user's objective defines its own.
    """
    space = spec.search.space
    if spec.objective is not None:
        return {}
    if spec.search.strategy not in DESIGN_STRATEGIES:
        return distributions(space)
    points = design_points(spec)
    flat = spec.params.flat()
    out: dict[str, BaseDistribution] = {}
    for name, dim in space.items():
        values = list(axis_values(name, dim))
        extra = [flat.get(name)] + [p.params[name] for p in points if name in p.params]
        for value in extra:
            if value is not None and not any(repr(v) == repr(value) for v in values):
                values.append(value)
        out[name] = CategoricalDistribution(values)
    return out


def _frozen(
    record: TrialRecord, dists: dict[str, BaseDistribution], objective_study: bool
) -> optuna.trial.FrozenTrial:
    """The finished trial ``record`` describes, as Optuna stores it."""
    state = _STATES.get(record.state, TrialState.FAIL)
    values: list[float] | None = None
    if state == TrialState.COMPLETE:
        values = list(record.values) if record.values else None
        if values is None and record.objective is not None:
            values = [float(record.objective)]
        if values is None:
            state = TrialState.FAIL
    params: dict[str, Any] = {}
    used: dict[str, BaseDistribution] = {}
    for name, value in record.params.items():
        dist = dists.get(name)
        if dist is None and objective_study and isinstance(value, (bool, int, float, str)):
            dist = CategoricalDistribution([value])
        if dist is not None and dist._contains(dist.to_internal_repr(value)):
            params[name], used[name] = value, dist
    attrs: dict[str, Any] = dict(record.user_attrs) if objective_study else {}
    attrs.update({ATTR_CONFIG: record.params, ATTR_SEED: record.seed})
    if record.point_key:
        attrs[ATTR_POINT] = record.point_key
    if state == TrialState.FAIL:
        attrs[ATTR_REASON] = record.reason or "failed"
    return optuna.trial.create_trial(
        state=state, values=values, params=params, distributions=used, user_attrs=attrs
    )


def retell_missing(
    study: optuna.Study,
    records: list[TrialRecord],
    dists: dict[str, BaseDistribution],
    objective_study: bool = False,
) -> int:
    """Add back the trials whose records exist but whose storage entries were lost.

    Storage numbers trials in creation order, so trials are added for every
    number from the storage's count up to the highest record: from the record
    where there is one, else as interrupted. Returns how many were told from
    records. Call it under the claim lock.
    """
    have = len(study.get_trials(deepcopy=False))
    by_number = {r.number: r for r in records if r.number >= have}
    if not by_number:
        return 0
    known = {k: v for t in study.get_trials(deepcopy=False) for k, v in t.distributions.items()}
    dists = {**known, **dists}
    told = 0
    for number in range(have, max(by_number) + 1):
        record = by_number.get(number)
        if record is not None:
            study.add_trial(_frozen(record, dists, objective_study))
            told += 1
        else:
            study.add_trial(
                optuna.trial.create_trial(
                    state=TrialState.FAIL, user_attrs={ATTR_INTERRUPTED: True}
                )
            )
        last = study.get_trials(deepcopy=False)[-1].number
        if last != number:
            raise StudyError(
                f"trial {number} must be added back to the storage as number {number}, but "
                f"it got number {last}: another process changed the storage meanwhile"
            )
    return told


def record_values(record: TrialRecord) -> list[float] | float | None:
    """What to tell Optuna for a complete trial: its values, or its one objective."""
    return list(record.values) if record.values else record.objective


def settle_orphans(
    study: optuna.Study, study_dir: StudyDir, alive: Callable[[FrozenTrial], bool]
) -> None:
    """Settle trials left RUNNING by a process that died (``alive`` says it did).

    A trial whose ``record.json`` was written is told as its record says;
    one without is marked interrupted (told FAIL, not counted) and runs again.
    """
    for t in study.get_trials(deepcopy=False):
        if t.state != TrialState.RUNNING or alive(t):
            continue
        trial_dir = study_dir.trial(t.number)
        record = read_record(trial_dir) if (trial_dir / "record.json").exists() else None
        if record is not None:
            state = _STATES.get(record.state, TrialState.FAIL)
            values = record_values(record) if state == TrialState.COMPLETE else None
            study.tell(t.number, values, state=state, skip_if_finished=True)
            _log.info("trial %d: recovered its finished record", t.number)
        else:
            shutil.rmtree(trial_dir, ignore_errors=True)
            study._storage.set_trial_user_attr(t._trial_id, ATTR_INTERRUPTED, True)
            study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
            _log.info("trial %d: interrupted by a dead process; it will run again", t.number)


def give_back(study: optuna.Study, owner: str, journal: Path | None) -> None:
    """Interrupt ``owner``'s RUNNING trials as far as the storage can still be written.

    For a full disk. Each write is tried on its own, but none once a failed
    append has left the ``journal`` ending in a partial line (one more append
    would bury it mid-file; the next open cuts it). A trial not marked stays
    RUNNING under ``owner``; the next run settles it (from its record, or as
    interrupted) once that process has exited.
    """
    for t in study.get_trials(deepcopy=False):
        if t.state != TrialState.RUNNING or t.user_attrs.get(ATTR_OWNER) != owner:
            continue
        for write in ("mark", "tell"):
            if journal is not None and not journal_ends_clean(journal):
                _log.info("%s ends in a partial entry: the next run settles the rest", journal)
                return
            try:
                if write == "mark":
                    study._storage.set_trial_user_attr(t._trial_id, ATTR_INTERRUPTED, True)
                else:
                    study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
            except OSError as exc:
                _log.info("trial %d: not marked interrupted (the next run does): %s", t.number, exc)


def doctor(root: str | Path) -> list[str]:
    """Rebuild the journal storage of the study in ``root`` from its trial records.

    The old journal is moved aside first (``optuna.log.doctor-<timestamp>``),
    never deleted. Unreadable records are quarantined by the read and run
    again. Refused while a worker works on the study, and for RDB storage
    (restore a database from its own backup). Returns what was done, one line
    each.
    """
    study_dir = Study(root)
    spec = study_dir.spec
    if spec.study.storage:
        raise RefusedError(
            "doctor must rebuild a journal storage (optuna.log), but this study's storage is "
            f"{spec.study.storage.split('://', 1)[0]}: restore the database from its backup"
        )
    root = study_dir.dir.root
    busy = live_owners(root)
    if busy:
        raise RefusedError(
            f"doctor must run while no worker works on {root}, but {busy[0]} still does: "
            "stop it first"
        )
    done: list[str] = []
    with claim_lock(root):
        records = study_dir.records()
        journal = root / JOURNAL_FILE
        lock = FlockLock(str(journal))
        lock.acquire()
        try:
            if journal.exists():
                backup = backup_name(journal, "doctor")
                journal.rename(backup)
                done.append(f"moved {journal.name} aside to {backup.name}")
        finally:
            lock.release()
        study = optuna.create_study(
            study_name=spec.study.name,
            storage=open_journal(journal),
            directions=directions_of(spec),
        )
        told = retell_missing(
            study, records, search_distributions(spec), spec.objective is not None
        )
        gaps = len(study.trials) - told
        done.append(f"wrote a new {journal.name}: {told} trial(s) told from their records")
        if gaps:
            done.append(f"{gaps} trial number(s) without a record marked interrupted (run again)")
    return done
