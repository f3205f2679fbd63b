"""The one study loop: ask a batch, let the trial source train it, record, tell.

Every kind of trial (the built-in MLP, a ``[model] factory``, an Optuna
objective or W&B ``train`` function) runs through :class:`Runner`, so
workers, Ray, ``sweeplab worker``, trackers, resume and Ctrl-C behave the
same for all of them. What differs lives in a :class:`TrialSource`: how
trials are asked and how a batch of them is trained.

Every trial is recorded on disk before it is told to Optuna, so a kill at
any moment loses at most the trials in flight, and those are detected and
re-run on resume.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeplab.spec import StudySpec
from sweeplab.store import (
    Heartbeat,
    StudyDir,
    TrialRecord,
    claim_lock,
    is_disk_full,
    open_storage,
    owner_alive,
    stop_when_full,
    stored_trial_count,
)
from sweeplab.study._ask import claimed, owned_elsewhere, tell
from sweeplab.study._attrs import (
    ATTR_CONFIG,
    ATTR_INTERRUPTED,
    ATTR_OWNER,
    ATTR_POINT,
    ATTR_REASON,
    ATTR_SEED,
)
from sweeplab.study._constraints import study_constraints, trial_constraints
from sweeplab.study._events import Callback, RunEvent
from sweeplab.study._interrupt import check as check_interrupt
from sweeplab.study._rebuild import (
    give_back,
    record_values,
    retell_missing,
    search_distributions,
    settle_orphans,
)
from sweeplab.track import Tracker

__all__ = [
    "ATTR_CONFIG",
    "ATTR_INTERRUPTED",
    "ATTR_OWNER",
    "ATTR_POINT",
    "ATTR_REASON",
    "ATTR_SEED",
    "Runner",
    "Running",
    "TrialSource",
    "counts",
]

_log = logging.getLogger(__name__)

optuna.logging.set_verbosity(optuna.logging.WARNING)


def now() -> str:
    """The current UTC time as ISO 8601, to the second."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def counts(trial: FrozenTrial) -> bool:
    """Whether a trial uses up budget: finished, pruned or failed (not interrupted)."""
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state == TrialState.FAIL and not trial.user_attrs.get(ATTR_INTERRUPTED)


@dataclass
class Running:
    """A trial this process asked and now owns until it is finished or interrupted.

    ``params`` are its flat parameters as recorded; ``config`` is whatever the
    source needs to train it (the MLP's ``TrainParams``, for example).
    """

    trial: optuna.Trial
    params: dict[str, Any]
    seed: int
    point_key: str | None = None
    point: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    config: Any = None
    started_at: str = field(default_factory=now)


class TrialSource(ABC):
    """What a study's trials are and how a batch of them is trained.

    Contract: :meth:`ask` creates up to ``n`` trials in ``runner.study``, each
    RUNNING with ``ATTR_OWNER`` set to ``runner.owner`` in the same write or
    right after, and returns them; :meth:`train` trains a batch and calls
    :meth:`Runner.finish` exactly once for every trial it did not interrupt
    (a ``KeyboardInterrupt`` it lets through interrupts the rest).
    """

    directions: list[Literal["maximize", "minimize"]]
    budget: int

    @abstractmethod
    def sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        """The Optuna sampler of a study whose storage already holds ``seed``-many trials."""

    @abstractmethod
    def pruner(self) -> optuna.pruners.BasePruner:
        """The Optuna pruner (``NopPruner`` when the strategy does not prune)."""

    @abstractmethod
    def ask(self, runner: Runner, n: int) -> list[Running]:
        """Create and own up to ``n`` new trials."""

    @abstractmethod
    def train(self, runner: Runner, batch: Sequence[Running]) -> None:
        """Train ``batch``, finishing each trial through ``runner.finish``."""

    def ask_size(self) -> int:
        """How many trials to ask (and train together) at once."""
        return 1

    def trackers(self, runner: Runner) -> list[Tracker]:
        """The trackers of the study (none by default)."""
        return []

    def after_budget(self, runner: Runner) -> None:  # noqa: B027 (optional hook)
        """Work to do once the budget is spent (confirmation); runs under the claim lock."""


class Runner:
    """One process working on a study until its budget is used up."""

    def __init__(
        self,
        spec: StudySpec,
        root: Path,
        source: TrialSource,
        callback: Callback | None = None,
        timeout: float | None = None,
    ) -> None:
        self.spec = spec
        self.dir = StudyDir(root)
        self.source = source
        self.callback = callback
        self.timeout = timeout if timeout is not None else spec.search.timeout
        self.total = source.budget
        self.directions = source.directions
        self.maximize = self.directions[0] == "maximize"
        self.storage = open_storage(root, spec.study.storage)
        existing = stored_trial_count(self.storage, spec.study.name)
        self.study = optuna.create_study(
            study_name=spec.study.name,
            storage=self.storage,
            directions=self.directions,
            sampler=source.sampler(existing),
            pruner=source.pruner(),
            load_if_exists=True,
        )
        self.heartbeat = Heartbeat(root)
        self.owner = self.heartbeat.owner
        self.trackers: list[Tracker] = source.trackers(self)
        self.constraints = study_constraints(spec)
        self.timed_out = False
        self.started = time.perf_counter()
        self.void: set[int] = set()
        #: Finished trials and the best value as of the last :meth:`tally`, plus this
        #: process's own since: progress per trial without re-reading every trial.
        self._done = 0
        self._best: float | None = None
        #: Trials recorded and told but not yet indexed: indexed together once their
        #: batch has trained (:meth:`index_finished`).
        self._unindexed: list[tuple[TrialRecord, dict[str, Any]]] = []

    # ---- bookkeeping -------------------------------------------------------------

    def trials(self) -> list[FrozenTrial]:
        return self.study.get_trials(deepcopy=False)

    def counts(self, trial: FrozenTrial) -> bool:
        """:func:`counts`, except for trials whose record was quarantined (they run again)."""
        return counts(trial) and trial.number not in self.void

    def finished(self) -> int:
        return sum(self.counts(t) for t in self.trials())

    def best_value(self) -> float | None:
        if len(self.directions) > 1:
            return None
        clean = [
            t.value
            for t in self.trials()
            if t.state == TrialState.COMPLETE and t.number not in self.void
        ]
        values = [v for v in clean if v is not None]
        if not values:
            return None
        return max(values) if self.maximize else min(values)

    def alive(self, trial: FrozenTrial) -> bool:
        """Whether the process that owns ``trial`` still works on the study."""
        return owner_alive(self.dir.root, trial.user_attrs.get(ATTR_OWNER), self.owner)

    def tally(self) -> None:
        """Re-count finished trials and the best value from the storage (once per batch)."""
        self._done = self.finished()
        self._best = self.best_value()

    def _count_finished(self, record: TrialRecord) -> None:
        """Add a trial this process just told to the tally, in O(1)."""
        self._done += 1
        value = record.values[0] if record.values else record.objective
        if record.state != "complete" or len(self.directions) > 1 or value is None:
            return
        if self._best is None or (value > self._best if self.maximize else value < self._best):
            self._best = float(value)

    def running_elsewhere(self) -> int:
        return sum(t.state == TrialState.RUNNING and self.alive(t) for t in self.trials())

    def recover(self) -> None:
        """Settle trials left RUNNING by a process that died, and trials the storage lost.

        A trial whose storage entries were lost (a torn journal tail cut on
        open) but whose record exists is told again from the record.
        """
        records = self.dir.records()
        self.void = {d.number for d in self.dir.damaged()}
        told = retell_missing(
            self.study, records, search_distributions(self.spec), self.spec.objective is not None
        )
        if told:
            _log.warning("told %d trial(s) the storage had lost again from their records", told)
        settle_orphans(self.study, self.dir, self.alive)

    def claim(self, asked: list[Running]) -> list[Running]:
        """Optimistic claim: keep only the trials that no earlier trial beat.

        The claim lock is an ``flock`` and only serializes processes on one
        machine. Across machines sharing an RDB, two workers can create the
        same grid point or overrun the budget at once; both then re-read the
        storage, and the trial created first (lowest storage id) wins. A
        loser is told FAIL with ``sweeplab.interrupted`` (not counted).
        """
        mine = {item.trial._trial_id for item in asked}
        kept_ids = claimed(self.trials(), mine, self.total, self.counts, self.alive)
        kept = [item for item in asked if item.trial._trial_id in kept_ids]
        for item in asked:
            if item.trial._trial_id not in kept_ids:
                _log.info("trial %d: claimed elsewhere first; abandoned", item.trial.number)
                self.interrupt(item)
        return kept

    # ---- ending trials -----------------------------------------------------------

    def interrupt(self, item: Running) -> None:
        """Give a trial back: FAIL with ``sweeplab.interrupted``, so it runs again."""
        item.trial.set_user_attr(ATTR_INTERRUPTED, True)
        tell(self.study, item.trial, state=TrialState.FAIL, skip_if_finished=True)

    def finish(
        self,
        item: Running,
        state: str,
        *,
        curves: Sequence[dict[str, float]] = (),
        confusion: dict[str, Any] | None = None,
        **fields: Any,
    ) -> TrialRecord:
        """Record a trial (``record.json`` last), hand it to the trackers, then tell Optuna.

        ``fields`` are the :class:`~sweeplab.store.TrialRecord` fields the
        source knows (metrics, group, epochs, values, ...).
        """
        user_code = self.constraints is not None or self.spec.objective is not None
        if user_code and state in ("complete", "pruned"):
            # As Optuna does: constraints of complete and pruned trials, set before tell
            # (an objective may also have set its own with trial.set_constraint).
            fields["constraints"] = trial_constraints(item.trial, self.constraints)
        record = TrialRecord(
            number=item.trial.number,
            state=state,
            params=item.params,
            seed=item.seed,
            point=item.point,
            point_key=item.point_key,
            label=item.label or self.spec.search.strategy,
            started_at=item.started_at,
            finished_at=now(),
            **fields,
        )
        trial_dir = self.dir.trial(record.number)
        written = self.dir.write_trial(record, list(curves), confusion, index=False)
        self._unindexed.append((record, written))
        files = {p.name: p for p in sorted(trial_dir.iterdir()) if p.is_file()}
        for tracker in self.trackers:
            tracker.trial_artifacts(record.number, files)
            tracker.log_trial(record, list(curves))
        if state == "complete":
            tell(self.study, item.trial, record_values(record))
        elif state == "pruned":
            tell(self.study, item.trial, state=TrialState.PRUNED)
        else:
            item.trial.set_user_attr(ATTR_REASON, record.reason or "failed")
            tell(self.study, item.trial, state=TrialState.FAIL)
        self._count_finished(record)
        if self.callback is not None:
            self.callback(RunEvent("trial", self._done, self.total, self._best, record))
        return record

    # ---- the loop ----------------------------------------------------------------

    def loop(self) -> None:
        """Work until the budget is used up, or ``search.timeout`` has passed.

        The timeout is checked between batches (and by the source between the
        groups of a batch), as Optuna checks it between trials: the group in
        flight finishes and is kept, and running the study again continues it.
        """
        try:
            with stop_when_full(self.dir.root), self.heartbeat:
                try:
                    self._loop()
                except OSError as exc:
                    if is_disk_full(exc):
                        journal = None if self.spec.study.storage else self.dir.journal
                        give_back(self.study, self.owner, journal)
                    raise
        finally:
            for tracker in self.trackers:
                tracker.close()

    def index_finished(self) -> None:
        """Index the trials this process recorded since the last call, in one write.

        A crash before it loses no trial: their records exist, readers read
        unindexed folders, and the next run's :meth:`StudyDir.sync_index` adds them.
        """
        written, self._unindexed = self._unindexed, []
        self.dir.index(written)

    def out_of_time(self) -> bool:
        """Whether ``search.timeout`` has passed since this process started the loop."""
        if self.timeout is None or time.perf_counter() - self.started < self.timeout:
            return False
        if not self.timed_out:
            _log.info("search.timeout of %g s reached: no new trials are started", self.timeout)
        self.timed_out = True
        return True

    def _loop(self) -> None:
        self.started = time.perf_counter()
        with claim_lock(self.dir.root):
            self.recover()
            self.dir.sync_index(skip=owned_elsewhere(self.trials(), self.owner, self.alive))
        if self.callback is not None:
            self.callback(RunEvent("start", self.finished(), self.total, self.best_value()))
        while True:
            with claim_lock(self.dir.root):
                self.void = {d.number for d in self.dir.damaged()}
                todo = self.total - self.finished() - self.running_elsewhere()
                n = min(todo, self.source.ask_size())
                asked = self.source.ask(self, n) if n > 0 else []
                batch = self.claim(asked) if asked else []
                self.tally()
            if not batch:
                break
            try:
                self.source.train(self, batch)
            finally:
                self.index_finished()
            check_interrupt()
            if self.out_of_time():
                break
        if self.finished() >= self.total:
            with claim_lock(self.dir.root):
                self.source.after_budget(self)
        if self.callback is not None:
            self.callback(RunEvent("end", self.finished(), self.total, self.best_value()))
