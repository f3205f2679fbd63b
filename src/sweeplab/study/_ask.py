"""Asking Optuna for a sampled trial that is RUNNING and owned in one storage write."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from sweeplab.study._attrs import ATTR_OWNER

__all__ = ["ask_owned"]


def ask_owned(study: optuna.Study, owner: str) -> optuna.Trial:
    """``study.ask()``, with ``ATTR_OWNER`` set to ``owner`` in the write that creates it.

    ``ask()`` then ``set_user_attr`` is two journal appends, each fsynced; a
    trial created from a RUNNING template that carries the owner is one, and
    is never seen without an owner (which resume would take for a dead one).
    A trial waiting in the queue (``enqueue_trial``) is taken as ``ask()``
    takes it, and its owner set right after.
    """
    study._thread_local.cached_all_trials = None  # as ask(): sync the storage once a trial
    waiting = study._pop_waiting_trial_id()
    if waiting is not None:
        trial = optuna.Trial(study, waiting)
        trial.set_user_attr(ATTR_OWNER, owner)
        return trial
    template = optuna.trial.create_trial(state=TrialState.RUNNING, user_attrs={ATTR_OWNER: owner})
    return optuna.Trial(study, study._storage.create_new_trial(study._study_id, template))
