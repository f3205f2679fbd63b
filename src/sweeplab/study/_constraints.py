"""Optuna constraints: ``search.constraints`` or the objective's own ``trial.set_constraint``.

``search.constraints`` names Optuna's ``constraints_func``:
``"file.py:function"`` is imported and called as Optuna calls it, with the
trial as a ``FrozenTrial`` (params, user attrs); ``"user_attrs.<name>"``
reads the values the objective stored with ``trial.set_user_attr(name, ...)``,
as Optuna's constrained examples do (a number or a sequence; a trial that did
not set it counts as infeasible). A trial is feasible when every value is <= 0.

Optuna 5 deprecates the samplers' ``constraints_func`` for
``Trial.set_constraint``: the runner therefore sets each value on the trial
with ``set_constraint`` before telling Optuna, so the samplers that read
trial constraints (TPE, GP; CMA-ES, random and Sobol do not) steer by them,
and Optuna's own ``best_trial`` agrees. An objective that calls ``trial.set_constraint``
itself needs no ``search.constraints``. Either way the values go into the
trial's record, where ``status``, the report and ``Study.best()`` (the best
*feasible* trial) read them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from sweeplab.spec import StudySpec, load_callable

__all__ = ["Constraints", "study_constraints", "trial_constraints"]

Constraints = Callable[[FrozenTrial], Sequence[float]]
"""Optuna's ``constraints_func``: a trial's constraint values (feasible when all <= 0)."""

_ATTR = "user_attrs."
_log = logging.getLogger(__name__)


def study_constraints(spec: StudySpec) -> Constraints | None:
    """The study's constraints function, or ``None`` when it names none."""
    named = spec.search.constraints
    if named is None:
        return None
    if named.startswith(_ATTR):
        name = named.removeprefix(_ATTR)

        def from_user_attr(trial: FrozenTrial) -> Sequence[float]:
            if name not in trial.user_attrs:
                # A trial pruned before it stored its constraints has no evidence
                # of being feasible: it counts as infeasible rather than crashing.
                _log.warning(
                    "search.constraints reads the user attr %r, but trial %d did not set it; "
                    "it counts as infeasible",
                    name,
                    trial.number,
                )
                return [math.inf]
            return _floats(trial.user_attrs[name])

        return from_user_attr
    fn = load_callable(named, what="search.constraints")

    def from_function(trial: FrozenTrial) -> Sequence[float]:
        return _floats(fn(trial))

    return from_function


def _floats(raw: Any) -> list[float]:
    values = [raw] if isinstance(raw, (int, float)) else list(raw)
    out = [float(v) for v in values]
    if not out or any(math.isnan(v) for v in out):
        raise ValueError(f"constraints must be one or more numbers (not NaN), but got {raw!r}")
    return out


def trial_constraints(trial: optuna.Trial, constraints: Constraints | None) -> list[float] | None:
    """Set the study's constraints on a running trial (``Trial.set_constraint``, named
    ``0``, ``1``, ... as Optuna names a ``constraints_func``'s values) and return all of
    the trial's constraint values, its own included; ``None`` when it has none."""
    frozen = trial.study._storage.get_trial(trial._trial_id)
    if constraints is not None and not frozen.constraints:
        for i, value in enumerate(constraints(frozen)):
            trial.set_constraint(str(i), value)
        frozen = trial.study._storage.get_trial(trial._trial_id)
    values = frozen.constraints
    return [float(v) for v in values.values()] if values else None
