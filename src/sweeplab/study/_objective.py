"""Trials that call the user's code: an unmodified Optuna ``objective(trial)`` or W&B ``train``.

The objective owns its training, so trials run one by one; everything else is
the one study loop's: the strategy's sampler and pruner, storage and locks,
owners and resume, ``record.json`` (params, value(s), user attrs,
intermediate values as ``curves.csv``), ``summary.csv``, trackers, progress.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeplab.compat import grid_space, wandb_objective
from sweeplab.engine import derive_seed
from sweeplab.search import make_pruner, make_sampler
from sweeplab.spec import StudySpec, directions_of, load_callable
from sweeplab.store import is_disk_full
from sweeplab.study._ask import OwnedAsker
from sweeplab.study._budget import study_budget
from sweeplab.study._loop import (
    ATTR_CONFIG,
    ATTR_INTERRUPTED,
    ATTR_POINT,
    Runner,
    Running,
    TrialSource,
    counts,
)
from sweeplab.track import Tracker, make_trackers

__all__ = ["ATTR_METRICS", "Objective", "ObjectiveSource", "TrialFailedError", "build_objective"]

_log = logging.getLogger(__name__)

Objective = Callable[[optuna.Trial], Any]

ATTR_METRICS = "sweeplab.metrics"
_PRIVATE = "sweeplab."


class TrialFailedError(RuntimeError):
    """A trial failed for a reason its message fully states (logged without a traceback)."""


class _Grid(optuna.samplers.GridSampler):
    """``GridSampler`` that never repeats a point, also across resumes and workers.

    Optuna's picks ``grid_id = trial.number`` for the first trials and counts
    every finished trial as visited, so after an interrupted trial (FAIL,
    ``sweeplab.interrupted``) its point never runs and another runs twice.
    Here a trial takes the lowest grid point no counted or running trial
    holds, and carries it as its ``sweeplab.point`` so the runner's claim
    keeps one trial per point across machines. No ``study.stop()``: the
    runner's budget ends the loop.
    """

    def __init__(self, search_space: Mapping[str, Sequence[Any]], seed: int) -> None:
        super().__init__(dict(search_space), seed=seed)
        # Grid points in their product order, not shuffled by the seed: every
        # worker and every resume (each with its own sampler seed) must agree
        # on which point a grid id is.
        self._all_grids = list(itertools.product(*self._search_space.values()))

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if "grid_id" in trial.system_attrs:
            return
        taken = {
            t.system_attrs["grid_id"]
            for t in study._storage.get_all_trials(study._study_id, deepcopy=False)
            if "grid_id" in t.system_attrs
            and t.number != trial.number
            and (
                counts(t)
                or (t.state == TrialState.RUNNING and not t.user_attrs.get(ATTR_INTERRUPTED))
            )
        }
        free = [i for i in range(len(self._all_grids)) if i not in taken]
        if not free:
            raise RuntimeError("every grid point is taken; the budget must not exceed the grid")
        storage = study._storage
        storage.set_trial_system_attr(trial._trial_id, "search_space", self._search_space)
        storage.set_trial_system_attr(trial._trial_id, "grid_id", free[0])
        storage.set_trial_user_attr(trial._trial_id, ATTR_POINT, f"grid-{free[0]}")

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        return None


class ObjectiveSource(TrialSource):
    """Trials asked from the sampler and handed, one at a time, to the user's objective."""

    def __init__(self, spec: StudySpec, objective: Objective | None = None) -> None:
        assert spec.objective is not None
        self.spec = spec
        self.objective = objective if objective is not None else build_objective(spec)
        self.directions = list(directions_of(spec))
        self.budget = study_budget(spec)

    def sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        seed = derive_seed(self.spec.study.seed, seed) % 2**32
        if self.spec.search.strategy == "grid":
            assert self.spec.objective is not None
            return _Grid(grid_space(self.spec.objective.parameters), seed=seed)
        return make_sampler(self.spec.search.strategy, seed)

    def pruner(self) -> optuna.pruners.BasePruner:
        search = self.spec.search
        pruner = make_pruner(search.strategy, 10**9, search.min_resource, search.reduction_factor)
        if search.strategy == "grid" and search.reduction_factor is not None:
            # A W&B grid with early_terminate: W&B stops grid runs at hyperband rungs too.
            pruner = optuna.pruners.HyperbandPruner()
        if isinstance(pruner, optuna.pruners.HyperbandPruner):
            pruner = optuna.pruners.HyperbandPruner(
                min_resource=search.min_resource or 1,
                max_resource="auto",
                reduction_factor=search.reduction_factor or 3,
            )
        return pruner

    def trackers(self, runner: Runner) -> list[Tracker]:
        return make_trackers(self.spec, runner.dir.root, None, None)

    def ask(self, runner: Runner, n: int) -> list[Running]:
        asked = []
        asker = OwnedAsker(runner.study, runner.owner)
        for _ in range(n):
            trial = asker.ask()
            seed = derive_seed(self.spec.study.seed, trial.number)
            asked.append(Running(trial, {}, seed))
        return asked

    def values(self, returned: Any) -> list[float]:
        n = len(self.directions)
        if isinstance(returned, (int, float)) and not isinstance(returned, bool):
            values = [float(returned)]
        elif isinstance(returned, Sequence) and not isinstance(returned, str):
            values = [float(v) for v in returned]
        else:
            raise TypeError(f"the objective must return a number, but returned {returned!r}")
        if len(values) != n:
            raise ValueError(
                f"the objective must return {n} value(s) for {n} direction(s), "
                f"but returned {len(values)}"
            )
        if any(not math.isfinite(v) for v in values):
            raise ValueError(f"the objective must return finite values, but returned {values}")
        return values

    def train(self, runner: Runner, batch: Sequence[Running]) -> None:
        for item in batch:
            self._run_one(runner, item)

    def _run_one(self, runner: Runner, item: Running) -> None:
        trial = item.trial
        for tracker in runner.trackers:
            tracker.trial_started(trial.number, {}, item.seed)
        start = time.perf_counter()
        state, reason, values = "complete", None, None
        try:
            values = self.values(self.objective(trial))
        except optuna.TrialPruned:
            state, reason = "pruned", "pruned by the pruner"
        except KeyboardInterrupt:
            runner.interrupt(item)
            raise
        except Exception as exc:
            if is_disk_full(exc):  # not the trial's fault: the study stops, the trial reruns
                raise
            traceback = not isinstance(exc, TrialFailedError)
            _log.warning("trial %d failed: %s", trial.number, exc, exc_info=traceback)
            state, reason = "failed", f"{type(exc).__name__}: {exc}"
        frozen: FrozenTrial = runner.study._storage.get_trial(trial._trial_id)
        attrs = frozen.user_attrs
        item.params = dict(attrs.get(ATTR_CONFIG, frozen.params))
        steps = sorted(frozen.intermediate_values.items())
        curves = [{"epoch": float(step), "value": float(v)} for step, v in steps]
        objective = values[0] if values and len(values) == 1 else None
        if state == "pruned" and steps and len(self.directions) == 1:
            objective = steps[-1][1]
        runner.finish(
            item,
            state,
            curves=curves,
            reason=reason,
            objective=objective,
            epochs_trained=int(steps[-1][0]) + 1 if steps else 0,
            val=attrs.get(ATTR_METRICS),
            duration_s=round(time.perf_counter() - start, 4),
            group=f"objective-{trial.number}",
            values=values,
            user_attrs={k: v for k, v in attrs.items() if not k.startswith(_PRIVATE)},
        )


def build_objective(spec: StudySpec) -> Objective:
    assert spec.objective is not None
    target = spec.objective
    fn = load_callable(target.target)
    if target.kind == "optuna":
        out: Objective = fn
        return out
    return wandb_objective(
        target.parameters, target.metric, fn, grid=spec.search.strategy == "grid"
    )
