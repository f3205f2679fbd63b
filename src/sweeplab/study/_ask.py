"""Optuna's ask and tell for the study loop, and which process owns which trial.

Ask and tell take one storage write each, with no per-trial scans. Both use
Optuna internals (``Study._pop_waiting_trial_id``,
``optuna.study._tell._tell_with_warning``), pinned by the tests of this
module: ``Study.ask`` and ``Study.tell`` each do work per trial that grows
with the study (a scan of every trial for a waiting one; a deep copy of the
told trial) and that the loop has no use for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import optuna
from optuna.study._tell import _tell_with_warning
from optuna.trial import FrozenTrial, TrialState

from sweeplab.study._attrs import ATTR_INTERRUPTED, ATTR_OWNER, ATTR_POINT

__all__ = ["OwnedAsker", "claimed", "owned_elsewhere", "tell"]


class OwnedAsker:
    """``study.ask()`` for a batch, each trial created RUNNING with ``ATTR_OWNER`` set to
    ``owner`` in the write that creates it.

    ``ask()`` then ``set_user_attr`` is two journal appends, each fsynced; a
    trial created from a RUNNING template that carries the owner is one, and
    is never seen without an owner (which resume would take for a dead one).
    A trial waiting in the queue (``enqueue_trial``) is taken first, as
    ``ask()`` takes it, and its owner set right after. Looking for one scans
    every trial of the study, so an asker (one per batch, asked under the
    claim lock) stops looking once the queue was found empty.
    """

    def __init__(self, study: optuna.Study, owner: str) -> None:
        self.study = study
        self.owner = owner
        self._queue = True

    def ask(self) -> optuna.Trial:
        study = self.study
        study._thread_local.cached_all_trials = None  # as ask(): sync once a trial
        if self._queue:
            waiting = study._pop_waiting_trial_id()
            if waiting is not None:
                trial = optuna.Trial(study, waiting)
                trial.set_user_attr(ATTR_OWNER, self.owner)
                return trial
            self._queue = False
        owned = {ATTR_OWNER: self.owner}
        template = optuna.trial.create_trial(state=TrialState.RUNNING, user_attrs=owned)
        return optuna.Trial(study, study._storage.create_new_trial(study._study_id, template))


def tell(
    study: optuna.Study,
    trial: optuna.Trial,
    values: float | Sequence[float] | None = None,
    state: TrialState | None = None,
    *,
    skip_if_finished: bool = False,
) -> None:
    """``study.tell(...)`` without the deep copy of the told trial it returns.

    Same checks, same sampler ``after_trial``, same single storage write.
    """
    _tell_with_warning(study, trial, values, state, skip_if_finished)


def claimed(
    trials: Sequence[FrozenTrial],
    mine: set[int],
    total: int,
    counts: Callable[[FrozenTrial], bool],
    alive: Callable[[FrozenTrial], bool],
) -> set[int]:
    """The storage ids among ``mine`` that keep their claim (see ``Runner.claim``).

    In storage-id order, every trial that counts or is RUNNING for a live
    owner (or is one of ``mine``) takes a rank, once per planned point,
    until ``total`` ranks are taken: the trial created first wins.
    """
    holders: set[str] = set()
    kept: set[int] = set()
    rank = 0
    for t in sorted(trials, key=lambda t: t._trial_id):
        live = counts(t) or (
            t.state == TrialState.RUNNING
            and (t._trial_id in mine or alive(t))
            and not t.user_attrs.get(ATTR_INTERRUPTED)
        )
        key = t.user_attrs.get(ATTR_POINT)
        if not live or (key is not None and key in holders) or rank >= total:
            continue
        rank += 1
        if key is not None:
            holders.add(key)
        if t._trial_id in mine:
            kept.add(t._trial_id)
    return kept


def owned_elsewhere(
    trials: Sequence[FrozenTrial], me: str, alive: Callable[[FrozenTrial], bool]
) -> set[int]:
    """The numbers of ``trials`` another live process owns: running, or told but not yet
    indexed (a runner indexes its batch after training it), so not this process's to index.
    """
    known: dict[str, bool] = {}
    out = set()
    for t in trials:
        owner = t.user_attrs.get(ATTR_OWNER)
        if owner and owner != me:
            if owner not in known:
                known[owner] = alive(t)
            if known[owner]:
                out.add(t.number)
    return out
