"""Run a user's unmodified Optuna objective with sweeplab's storage, resume and records.

The objective owns its training, so trials run one by one. Everything else is
sweeplab's: the strategy's sampler and pruner, the journal storage with its
crash-safe lock, ``trials/<n>/record.json`` (params, value(s), user attrs,
intermediate values as ``curves.csv``), ``summary.csv``, progress events and
trackers. A killed study resumes: finished trials are kept, trials interrupted
by a dead process run again, and the budget is never exceeded.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import shutil
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import optuna
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from sweeplab.compat._load import absolute_target, load_callable
from sweeplab.engine import derive_seed
from sweeplab.errors import SpecError
from sweeplab.runner import DEFAULT_TRIALS, Callback, RunEvent, _prepare_dir
from sweeplab.search import make_pruner, make_sampler
from sweeplab.spec import StudySpec, load_spec, spec_from_dict
from sweeplab.store import (
    Study,
    StudyDir,
    TrialRecord,
    collect_provenance,
    write_json,
    write_text,
    write_trial,
)
from sweeplab.store._lock import FlockLock
from sweeplab.track import Tracker

__all__ = [
    "Objective",
    "directions_of",
    "objective_spec",
    "run_objective",
    "with_absolute_target",
]

_log = logging.getLogger(__name__)

Objective = Callable[[optuna.Trial], Any]

ATTR_OWNER = "sweeplab.owner"
ATTR_INTERRUPTED = "sweeplab.interrupted"
ATTR_REASON = "sweeplab.reason"
ATTR_CONFIG = "sweeplab.config"
ATTR_METRICS = "sweeplab.metrics"
_PRIVATE = "sweeplab."


def directions_of(spec: StudySpec) -> list[Literal["maximize", "minimize"]]:
    """The study's directions: ``study.directions``, else the single ``study.direction``."""
    if spec.study.directions:
        return list(spec.study.directions)
    return [spec.direction]


def objective_spec(
    target: str, *, name: str | None = None, overrides: Sequence[str] = (), base: str | None = None
) -> StudySpec:
    """A study spec for ``sweeplab run --objective file.py:objective``.

    Unless set, the study is named after the objective's file or function, uses
    TPE and minimizes, as ``optuna.create_study`` does by default.
    """
    module, _, attr = target.rpartition(":")
    stem = Path(module).stem if module.endswith(".py") else attr
    default = "".join(c if c.isalnum() or c in "_-" else "-" for c in stem.lower()) or "objective"
    raw: dict[str, Any] = {
        "study": {"name": name or default, "direction": "minimize"},
        "search": {"strategy": "tpe"},
        "objective": {"target": absolute_target(target, base or Path.cwd())},
    }
    return spec_from_dict(raw, overrides)


def with_absolute_target(spec: StudySpec, base_dir: str | Path) -> StudySpec:
    """``spec`` with relative objective and model factory files made absolute."""
    if spec.objective is not None:
        target = absolute_target(spec.objective.target, base_dir)
        if target != spec.objective.target:
            spec = spec.model_copy(deep=True)
            assert spec.objective is not None
            spec.objective.target = target
    if spec.model.factory is not None:
        factory = absolute_target(spec.model.factory, base_dir)
        if factory != spec.model.factory:
            spec = spec.model_copy(deep=True)
            spec.model.factory = factory
    return spec


def _resolve(spec: StudySpec) -> StudySpec:
    """Objective studies minimize by default (as Optuna does); write it out."""
    if spec.objective is None:
        raise SpecError("objective must be set for an objective study, but got none")
    kind = spec.objective.kind
    if spec.study.direction == "auto" and not spec.study.directions:
        spec = spec.model_copy(deep=True)
        spec.study.direction = "minimize"
    if spec.search.strategy in ("grid", "ofat") and kind == "optuna":
        raise SpecError(
            f"search.strategy must be a sampler (random, sobol, tpe, gp, cmaes, hyperband, asha, "
            f"bohb) for an Optuna objective, but got {spec.search.strategy!r}: the objective "
            "defines its own space"
        )
    if spec.study.directions and spec.search.strategy in (
        "gp",
        "cmaes",
        "hyperband",
        "asha",
        "bohb",
    ):
        raise SpecError(
            "search.strategy must be random, sobol or tpe for a multi-objective study, "
            f"but got {spec.search.strategy!r}"
        )
    return spec


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_alive(owner: str | None) -> bool:
    """Whether the process that owns a RUNNING trial still runs (other hosts: assume so)."""
    if not owner or ":" not in owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class _ObjectiveTensorBoard(Tracker):
    """TensorBoard for objective trials: intermediate values per step and the HParams."""

    def __init__(self, root: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self._writer_cls = SummaryWriter
        self.root = root

    def log_trial(self, record: TrialRecord, curves: list[dict[str, float]]) -> None:
        try:
            writer = self._writer_cls(log_dir=str(self.root / f"trial-{record.number:05d}"))
        except Exception as exc:
            _log.warning("tensorboard: trial %d not logged: %s", record.number, exc)
            return
        try:
            for row in curves:
                writer.add_scalar("objective/intermediate", row["value"], int(row["epoch"]))
            hparams = {
                k: v for k, v in record.params.items() if isinstance(v, (int, float, str, bool))
            }
            metrics = {f"hparam/value_{i}": float(v) for i, v in enumerate(record.values or [])}
            writer.add_hparams(hparams, metrics or {"hparam/value_0": math.nan}, run_name=".")
        finally:
            writer.close()


class _ObjectiveRunner:
    def __init__(
        self, spec: StudySpec, root: Path, objective: Objective, callback: Callback | None
    ) -> None:
        assert spec.objective is not None
        self.spec = spec
        self.dir = StudyDir(root)
        self.objective = objective
        self.callback = callback
        self.directions = directions_of(spec)
        self.total = spec.search.trials or DEFAULT_TRIALS
        if spec.study.storage:
            self.storage: optuna.storages.BaseStorage = optuna.storages.RDBStorage(
                spec.study.storage
            )
        else:
            path = str(self.dir.journal)
            self.storage = optuna.storages.JournalStorage(
                JournalFileBackend(path, lock_obj=FlockLock(path))
            )
        existing = 0
        for s in optuna.get_all_study_summaries(self.storage):
            if s.study_name == spec.study.name:
                existing = s.n_trials
        seed = derive_seed(spec.study.seed, existing) % 2**32
        sampler = _sampler(spec, seed)
        pruner = make_pruner(
            spec.search.strategy,
            10**9,
            spec.search.min_resource,
            spec.search.reduction_factor,
        )
        if isinstance(pruner, optuna.pruners.HyperbandPruner):
            pruner = optuna.pruners.HyperbandPruner(
                min_resource=spec.search.min_resource or 1,
                max_resource="auto",
                reduction_factor=spec.search.reduction_factor or 3,
            )
        self.study = optuna.create_study(
            study_name=spec.study.name,
            storage=self.storage,
            directions=self.directions,
            sampler=sampler,
            pruner=pruner,
            load_if_exists=True,
        )
        self.trackers: list[Tracker] = []
        if spec.track.tensorboard:
            self.trackers.append(_ObjectiveTensorBoard(root / "tensorboard"))

    def _trials(self) -> list[FrozenTrial]:
        return self.study.get_trials(deepcopy=False)

    @staticmethod
    def _counts(t: FrozenTrial) -> bool:
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
            return True
        return t.state == TrialState.FAIL and not t.user_attrs.get(ATTR_INTERRUPTED)

    def finished(self) -> int:
        return sum(self._counts(t) for t in self._trials())

    def running_elsewhere(self) -> int:
        return sum(
            t.state == TrialState.RUNNING and _owner_alive(t.user_attrs.get(ATTR_OWNER))
            for t in self._trials()
        )

    def best_value(self) -> float | None:
        if len(self.directions) > 1:
            return None
        values = [t.value for t in self._trials() if t.state == TrialState.COMPLETE]
        clean = [v for v in values if v is not None]
        if not clean:
            return None
        return max(clean) if self.directions[0] == "maximize" else min(clean)

    def recover(self) -> None:
        """Settle trials left RUNNING by a process that died."""
        for t in self._trials():
            if t.state != TrialState.RUNNING or _owner_alive(t.user_attrs.get(ATTR_OWNER)):
                continue
            trial_dir = self.dir.trial(t.number)
            record_path = trial_dir / "record.json"
            if record_path.exists():
                rec = json.loads(record_path.read_text(encoding="utf-8"))
                state = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED}.get(
                    rec["state"], TrialState.FAIL
                )
                values = rec.get("values") if state == TrialState.COMPLETE else None
                self.study.tell(t.number, values, state=state, skip_if_finished=True)
            else:
                shutil.rmtree(trial_dir, ignore_errors=True)
                self.study._storage.set_trial_user_attr(t._trial_id, ATTR_INTERRUPTED, True)
                self.study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
                _log.info("trial %d: interrupted by a dead process; it will run again", t.number)

    def loop(self) -> None:
        try:
            self.recover()
            if self.callback is not None:
                self.callback(RunEvent("start", self.finished(), self.total, self.best_value()))
            while self.total - self.finished() - self.running_elsewhere() > 0:
                self.run_one()
                self.dir.write_summary(self.dir.records())
            self.dir.write_summary(self.dir.records())
            if self.callback is not None:
                self.callback(RunEvent("end", self.finished(), self.total, self.best_value()))
        finally:
            for tracker in self.trackers:
                tracker.close()

    def _values(self, returned: Any) -> list[float]:
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

    def run_one(self) -> None:
        trial = self.study.ask()
        trial.set_user_attr(ATTR_OWNER, _owner())
        started_at = _now()
        start = time.perf_counter()
        state, reason, values = "complete", None, None
        try:
            values = self._values(self.objective(trial))
        except optuna.TrialPruned:
            state = "pruned"
            reason = "pruned by the pruner"
        except KeyboardInterrupt:
            trial.set_user_attr(ATTR_INTERRUPTED, True)
            self.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
            raise
        except Exception as exc:
            _log.warning("trial %d failed: %s", trial.number, exc, exc_info=True)
            state, reason = "failed", f"{type(exc).__name__}: {exc}"
        frozen = self.study._storage.get_trial(trial._trial_id)
        attrs = frozen.user_attrs
        params = attrs.get(ATTR_CONFIG, frozen.params)
        steps = sorted(frozen.intermediate_values.items())
        curves = [{"epoch": float(step), "value": float(v)} for step, v in steps]
        record = TrialRecord(
            number=trial.number,
            state=state,
            params=dict(params),
            seed=derive_seed(self.spec.study.seed, trial.number),
            label=self.spec.search.strategy,
            reason=reason,
            objective=values[0] if values and len(values) == 1 else None,
            epochs_trained=int(steps[-1][0]) + 1 if steps else 0,
            val=attrs.get(ATTR_METRICS),
            duration_s=round(time.perf_counter() - start, 4),
            group=f"objective-{trial.number}",
            started_at=started_at,
            finished_at=_now(),
            values=values,
            user_attrs={k: v for k, v in attrs.items() if not k.startswith(_PRIVATE)},
        )
        if state == "pruned" and steps:
            record.objective = steps[-1][1] if len(self.directions) == 1 else None
        write_trial(self.dir.trial(trial.number), record, curves, None)
        for tracker in self.trackers:
            tracker.log_trial(record, curves)
        if state == "complete":
            self.study.tell(trial, values)
        elif state == "pruned":
            self.study.tell(trial, state=TrialState.PRUNED)
        else:
            trial.set_user_attr(ATTR_REASON, reason or "failed")
            self.study.tell(trial, state=TrialState.FAIL)
        if self.callback is not None:
            self.callback(RunEvent("trial", self.finished(), self.total, self.best_value(), record))


class _Grid(optuna.samplers.GridSampler):
    """``GridSampler`` without its ``study.stop()``: the runner's budget ends the loop."""

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        return None


def _sampler(spec: StudySpec, seed: int) -> optuna.samplers.BaseSampler:
    if spec.search.strategy == "grid":
        from sweeplab.compat._wandb import grid_space

        assert spec.objective is not None
        return _Grid(grid_space(spec.objective.parameters), seed=seed)
    return make_sampler(spec.search.strategy, seed)


def run_objective(
    spec: StudySpec | str | Path,
    *,
    runs_dir: str | Path = "runs",
    overrides: Sequence[str] = (),
    objective: Objective | None = None,
    callback: Callback | None = None,
) -> Study:
    """Run (or resume) a study whose trials call a user's objective.

    Args:
        spec: a spec with an ``objective`` section, or the path of such a study file.
        runs_dir: where study directories live.
        overrides: ``key=value`` strings applied on top of a study file path.
        objective: the callable itself; by default it is imported from ``spec.objective``.
        callback: receives a :class:`~sweeplab.runner.RunEvent` per trial.
    """
    if not isinstance(spec, StudySpec):
        path = Path(spec)
        spec = with_absolute_target(load_spec(path, overrides), path.parent)
    spec = _resolve(spec)
    assert spec.objective is not None
    if objective is None:
        objective = _build(spec)
    root = Path(runs_dir) / spec.study.name
    _prepare_dir(spec, root)
    study_dir = StudyDir(root)
    study_dir.trials.mkdir(parents=True, exist_ok=True)
    write_text(study_dir.spec_file, spec.to_toml())
    if not study_dir.provenance.exists():
        info = {"objective": spec.objective.target, "kind": spec.objective.kind}
        write_json(
            study_dir.provenance, collect_provenance(seed=spec.study.seed, data=info, device="cpu")
        )
    _ObjectiveRunner(spec, root, objective, callback).loop()
    return Study(root)


def _build(spec: StudySpec) -> Objective:
    assert spec.objective is not None
    target = spec.objective
    fn = load_callable(target.target)
    if target.kind == "optuna":
        out: Objective = fn
        return out
    from sweeplab.compat._wandb import wandb_objective

    return wandb_objective(
        target.parameters, target.metric, fn, grid=spec.search.strategy == "grid"
    )
