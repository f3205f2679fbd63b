"""The runner: ask a batch of trials, train them as fused groups, tell, store.

It is a thin loop over the three layers. The search layer (Optuna, plus
planned design points) decides which configs run; the engine trains them;
the store keeps what happened. Every trial is recorded on disk before it is
told to Optuna, so a kill at any moment loses at most the trials in flight,
and those are detected and re-run on resume.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import socket
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import optuna
import tomllib
import torch
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from sweeplab.data import Dataset, load_dataset
from sweeplab.engine import GroupData, MemberResult, MemberSpec, derive_seed, train_group
from sweeplab.errors import SpecError
from sweeplab.search import (
    DESIGN_STRATEGIES,
    Point,
    design_points,
    make_pruner,
    make_sampler,
    model_based,
)
from sweeplab.space import axis_values, distributions, suggest
from sweeplab.spec import StudySpec, TrainParams, load_spec, spec_from_dict
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
from sweeplab.track import Tracker, make_trackers

__all__ = ["RunEvent", "resolve_device", "run"]

_log = logging.getLogger(__name__)

DEFAULT_TRIALS = 20
_ATTR_CONFIG = "sweeplab.config"
_ATTR_SEED = "sweeplab.seed"
_ATTR_POINT = "sweeplab.point"
_ATTR_OWNER = "sweeplab.owner"
_ATTR_INTERRUPTED = "sweeplab.interrupted"
_ATTR_REASON = "sweeplab.reason"
_RESUMABLE = ("search.trials", "search.group_size", "study.device", "track")

optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass(frozen=True)
class RunEvent:
    """Progress of a run, for the CLI's progress bar (the library never prints)."""

    kind: Literal["start", "trial", "end"]
    done: int
    total: int
    best: float | None = None
    record: TrialRecord | None = None


Callback = Callable[[RunEvent], None]


def resolve_device(name: str) -> torch.device:
    """``auto`` is the first CUDA device when there is one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SpecError(f"study.device must be a device this machine has, but got {name!r}")
    return torch.device(name)


def _identity(spec: StudySpec) -> dict[str, Any]:
    data = spec.model_dump(mode="json")
    for path in _RESUMABLE:
        node = data
        *parents, leaf = path.split(".")
        for part in parents:
            node = node[part]
        node.pop(leaf, None)
    return data


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b)):
            out += _diff(a.get(key), b.get(key), f"{prefix}{key}.")
        return out
    return [] if a == b else [prefix.rstrip(".")]


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_alive(owner: str | None) -> bool:
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


def _point_seed(study_seed: int, key: str) -> int:
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    return derive_seed(study_seed, digest)


def member_spec(params: TrainParams, seed: int) -> MemberSpec:
    """The engine's view of a trial."""
    return MemberSpec(
        units=params.layer_units(),
        activation=params.activation,
        dropout=params.dropout,
        optimizer=params.optimizer,
        lr=params.lr,
        weight_decay=params.weight_decay,
        momentum=params.momentum,
        beta1=params.beta1,
        beta2=params.beta2,
        batch_size=params.batch_size,
        epochs=params.epochs,
        seed=seed,
    )


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class _Running:
    trial: optuna.Trial
    params: TrainParams
    seed: int
    point: Point | None
    started_at: str


class _Runner:
    def __init__(
        self,
        spec: StudySpec,
        root: Path,
        dataset: Dataset,
        device: torch.device,
        callback: Callback | None,
    ) -> None:
        self.spec = spec
        self.dir = StudyDir(root)
        self.dataset = dataset
        self.device = device
        self.callback = callback
        self.dtype = torch.float64 if spec.study.dtype == "float64" else torch.float32
        self.maximize = spec.direction == "maximize"
        self.strategy = spec.search.strategy
        self.points = design_points(spec)
        if self.strategy in DESIGN_STRATEGIES:
            planned = len(self.points)
            self.total = min(spec.search.trials or planned, planned)
        else:
            self.total = spec.search.trials or DEFAULT_TRIALS
        if self.total < 1:
            raise SpecError(f"search.space must give at least one trial for {self.strategy!r}")
        self.storage = self._storage()
        max_epochs = max(self._max_epochs(), 1)
        existing = self._existing_count()
        self.study = optuna.create_study(
            study_name=spec.study.name,
            storage=self.storage,
            direction=spec.direction,
            sampler=make_sampler(self.strategy, derive_seed(spec.study.seed, existing) % 2**32),
            pruner=make_pruner(
                self.strategy, max_epochs, spec.search.min_resource, spec.search.reduction_factor
            ),
            load_if_exists=True,
        )
        self.group_data = GroupData.from_tensors(
            [
                dataset.x_train,
                dataset.y_train,
                dataset.x_val,
                dataset.y_val,
                dataset.x_test,
                dataset.y_test,
            ],
            dataset.n_classes,
            device=device,
            dtype=self.dtype,
        )
        self.groups_run = 0
        self._dists = self._point_distributions()
        self.trackers: list[Tracker] = make_trackers(
            spec, root, dataset.n_features, dataset.n_classes
        )

    def _storage(self) -> optuna.storages.BaseStorage:
        if self.spec.study.storage:
            return optuna.storages.RDBStorage(self.spec.study.storage)
        path = str(self.dir.journal)
        backend = JournalFileBackend(path, lock_obj=FlockLock(path))
        return optuna.storages.JournalStorage(backend)

    def _existing_count(self) -> int:
        try:
            summaries = optuna.get_all_study_summaries(self.storage)
        except Exception:
            return 0
        for s in summaries:
            if s.study_name == self.spec.study.name:
                return s.n_trials
        return 0

    def _max_epochs(self) -> int:
        best = self.spec.params.epochs
        dim = self.spec.search.space.get("epochs")
        if isinstance(dim, list):
            best = max(best, *(int(v) for v in dim))
        elif dim is not None:
            best = max(best, int(dim.high))
        for cfg in self.spec.search.configs:
            best = max(best, int(cfg.get("epochs", best)))
        return best

    # ---- bookkeeping -------------------------------------------------------------

    def _trials(self) -> list[FrozenTrial]:
        return self.study.get_trials(deepcopy=False)

    @staticmethod
    def _counts(trial: FrozenTrial) -> bool:
        if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
            return True
        return trial.state == TrialState.FAIL and not trial.user_attrs.get(_ATTR_INTERRUPTED)

    def finished(self) -> int:
        return sum(self._counts(t) for t in self._trials())

    def best_value(self) -> float | None:
        values = [t.value for t in self._trials() if t.state == TrialState.COMPLETE]
        clean = [v for v in values if v is not None]
        if not clean:
            return None
        return max(clean) if self.maximize else min(clean)

    def recover(self) -> None:
        """Settle trials left RUNNING by a process that died."""
        for t in self._trials():
            if t.state != TrialState.RUNNING or _owner_alive(t.user_attrs.get(_ATTR_OWNER)):
                continue
            trial_dir = self.dir.trial(t.number)
            record_path = trial_dir / "record.json"
            if record_path.exists():
                rec = json.loads(record_path.read_text(encoding="utf-8"))
                state = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED}.get(
                    rec["state"], TrialState.FAIL
                )
                value = rec["objective"] if state == TrialState.COMPLETE else None
                self.study.tell(t.number, value, state=state, skip_if_finished=True)
                _log.info("trial %d: recovered its finished record", t.number)
            else:
                shutil.rmtree(trial_dir, ignore_errors=True)
                self.study._storage.set_trial_user_attr(t._trial_id, _ATTR_INTERRUPTED, True)
                self.study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
                _log.info("trial %d: interrupted by a dead process; it will run again", t.number)

    def _taken_points(self) -> set[str]:
        taken = set()
        for t in self._trials():
            key = t.user_attrs.get(_ATTR_POINT)
            if key is None:
                continue
            if self._counts(t) or (
                t.state == TrialState.RUNNING and _owner_alive(t.user_attrs.get(_ATTR_OWNER))
            ):
                taken.add(key)
        return taken

    def _running_elsewhere(self) -> int:
        return sum(
            t.state == TrialState.RUNNING and _owner_alive(t.user_attrs.get(_ATTR_OWNER))
            for t in self._trials()
        )

    # ---- asking ----------------------------------------------------------------

    def _ask(self, n: int) -> list[_Running]:
        taken = self._taken_points()
        pending = [p for p in self.points if p.key not in taken]
        asked: list[_Running] = []
        for point in pending[:n]:
            asked.append(self._ask_point(point))
        if self.strategy not in DESIGN_STRATEGIES:
            for _ in range(n - len(asked)):
                trial = self.study.ask()
                chosen = suggest(trial, self.spec.search.space, self.spec.params)
                params = self.spec.params.model_copy(update=chosen)
                params = TrainParams.model_validate(params.model_dump())
                seed = derive_seed(self.spec.study.seed, trial.number)
                asked.append(self._start(trial, params, seed))
        return asked

    def _point_distributions(self) -> dict[str, BaseDistribution]:
        """One distribution per searched name, the same for every planned trial."""
        space = self.spec.search.space
        if self.strategy not in DESIGN_STRATEGIES:
            return distributions(space)
        flat = self.spec.params.flat()
        out: dict[str, BaseDistribution] = {}
        for name, dim in space.items():
            values = list(axis_values(name, dim))
            extra = [flat.get(name)] + [p.params[name] for p in self.points if name in p.params]
            for value in extra:
                if value is not None and not any(repr(v) == repr(value) for v in values):
                    values.append(value)
            out[name] = CategoricalDistribution(values)
        return out

    def _ask_point(self, point: Point) -> _Running:
        """Create the planned trial, RUNNING and owned, in one storage write."""
        dists = self._dists
        fixed = {
            k: v
            for k, v in point.params.items()
            if k in dists and dists[k]._contains(dists[k].to_internal_repr(v))
        }
        params = TrainParams.model_validate({**self.spec.params.model_dump(), **point.params})
        seed = _point_seed(self.spec.study.seed, point.key)
        template = optuna.trial.create_trial(
            state=TrialState.RUNNING,
            params=fixed,
            distributions={k: dists[k] for k in fixed},
            user_attrs={
                _ATTR_OWNER: _owner(),
                _ATTR_CONFIG: params.flat(),
                _ATTR_SEED: seed,
                _ATTR_POINT: point.key,
            },
        )
        storage = self.study._storage
        trial_id = storage.create_new_trial(self.study._study_id, template_trial=template)
        trial = optuna.Trial(self.study, trial_id)
        return _Running(trial, params, seed, point, _now())

    def _start(self, trial: optuna.Trial, params: TrainParams, seed: int) -> _Running:
        trial.set_user_attr(_ATTR_OWNER, _owner())
        trial.set_user_attr(_ATTR_CONFIG, params.flat())
        trial.set_user_attr(_ATTR_SEED, seed)
        return _Running(trial, params, seed, None, _now())

    # ---- training --------------------------------------------------------------

    def group_cap(self, member: MemberSpec) -> int:
        """How many members like ``member`` fit the memory budget at once."""
        elem = 8 if self.dtype == torch.float64 else 4
        dims = [self.dataset.n_features, *member.units, self.dataset.n_classes]
        n_params = sum(dims[i] * dims[i + 1] + dims[i + 1] for i in range(len(dims) - 1))
        acts = member.batch_size * (sum(member.units) * 6 + self.dataset.n_features)
        per_member = elem * (5 * n_params + acts)
        if self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            budget = int(free * 0.5)
        else:
            budget = 2 * 2**30
        cap = max(1, budget // per_member)
        if self.spec.search.group_size:
            cap = min(cap, self.spec.search.group_size)
        return int(min(cap, 1024))

    def train(self, batch: Sequence[_Running]) -> None:
        if self.spec.model.factory:
            from sweeplab.compat._models import train_custom

            train_custom(self, batch)
            return
        buckets: dict[tuple[Any, ...], list[_Running]] = defaultdict(list)
        members: dict[int, MemberSpec] = {}
        for item in batch:
            member = member_spec(item.params, item.seed)
            members[id(item)] = member
            buckets[member.group_key()].append(item)
        for items in buckets.values():
            cap = self.group_cap(members[id(items[0])])
            for start in range(0, len(items), cap):
                chunk = items[start : start + cap]
                self._train_chunk(chunk, [members[id(i)] for i in chunk])

    def _train_chunk(
        self,
        items: list[_Running],
        members: list[MemberSpec],
        trainer: Callable[..., list[MemberResult]] = train_group,
    ) -> None:
        self.groups_run += 1
        group = f"{self.groups_run:04d}-{os.getpid()}"
        done: set[int] = set()
        objective = self.spec.study.objective

        def on_epoch(epoch: int, reports: dict[int, dict[str, float]]) -> Iterable[int]:
            pruned = []
            for m, row in reports.items():
                trial = items[m].trial
                trial.report(row[objective], epoch)
                if trial.should_prune():
                    pruned.append(m)
            return pruned

        def on_end(m: int, result: MemberResult) -> None:
            done.add(m)
            self._finish(items[m], result, group)

        try:
            trainer(members, self.group_data, on_epoch=on_epoch, on_end=on_end)
        except KeyboardInterrupt:
            for m, item in enumerate(items):
                if m not in done:
                    self._interrupt(item)
            raise
        except Exception as exc:
            _log.exception("group %s failed", group)
            for m, item in enumerate(items):
                if m not in done:
                    reason = f"{type(exc).__name__}: {exc}"
                    self._finish(item, MemberResult(state="failed", reason=reason), group)

    def _interrupt(self, item: _Running) -> None:
        item.trial.set_user_attr(_ATTR_INTERRUPTED, True)
        self.study.tell(item.trial, state=TrialState.FAIL, skip_if_finished=True)

    def _finish(self, item: _Running, result: MemberResult, group: str) -> None:
        objective = None
        if result.val is not None:
            objective = result.val[self.spec.study.objective.removeprefix("val_")]
        record = TrialRecord(
            number=item.trial.number,
            state=result.state,
            params=item.params.flat(),
            seed=item.seed,
            point=item.point.params if item.point else {},
            point_key=item.point.key if item.point else None,
            label=item.point.label if item.point else self.strategy,
            reason=result.reason,
            objective=objective,
            epochs_trained=result.epochs,
            train_steps=result.train_steps,
            val=result.val,
            test=result.test,
            duration_s=round(result.duration_s, 4),
            group=group,
            group_size=result.group_size,
            started_at=item.started_at,
            finished_at=_now(),
        )
        confusion = None
        if result.val_confusion is not None:
            confusion = {
                "classes": list(self.dataset.classes),
                "val": result.val_confusion,
                "test": result.test_confusion,
            }
        write_trial(self.dir.trial(record.number), record, result.curves, confusion)
        for tracker in self.trackers:
            tracker.log_trial(record, result.curves)
        if result.state == "complete":
            self.study.tell(item.trial, objective)
        elif result.state == "pruned":
            self.study.tell(item.trial, state=TrialState.PRUNED)
        else:
            item.trial.set_user_attr(_ATTR_REASON, result.reason or "failed")
            self.study.tell(item.trial, state=TrialState.FAIL)
        if self.callback is not None:
            self.callback(RunEvent("trial", self.finished(), self.total, self.best_value(), record))

    # ---- the loop --------------------------------------------------------------

    def ask_size(self) -> int:
        if self.spec.search.group_size:
            return self.spec.search.group_size
        if model_based(self.strategy):
            return max(1, min(8, self.total // 5))
        return 256

    def loop(self) -> None:
        try:
            self._loop()
        finally:
            for tracker in self.trackers:
                tracker.close()

    def _loop(self) -> None:
        self.recover()
        finished = self.finished()
        if self.callback is not None:
            self.callback(RunEvent("start", finished, self.total, self.best_value()))
        while True:
            finished = self.finished()
            todo = self.total - finished - self._running_elsewhere()
            if todo <= 0:
                break
            batch = self._ask(min(todo, self.ask_size()))
            if not batch:
                break
            self.train(batch)
            self.dir.write_summary(self.dir.records())
        self.dir.write_summary(self.dir.records())
        if self.callback is not None:
            self.callback(RunEvent("end", self.finished(), self.total, self.best_value()))


def _prepare_dir(spec: StudySpec, root: Path) -> None:
    study_dir = StudyDir(root)
    if study_dir.spec_file.exists():
        old = spec_from_dict(tomllib.loads(study_dir.spec_file.read_text(encoding="utf-8")))
        changed = _diff(_identity(old), _identity(spec))
        if changed:
            raise SpecError(
                f"study {spec.study.name!r} in {root} must be resumed with the same study file, "
                f"but {', '.join(changed[:5])} changed; pick a new study.name or remove {root}"
            )


def run(
    spec: StudySpec | str | Path,
    *,
    runs_dir: str | Path = "runs",
    overrides: Iterable[str] = (),
    callback: Callback | None = None,
) -> Study:
    """Run (or resume) a study and return it.

    Args:
        spec: a :class:`~sweeplab.spec.StudySpec` or the path of a study file.
        runs_dir: where study directories live; the study goes to
            ``runs_dir/<study.name>``.
        overrides: ``key=value`` strings applied on top of a study file path.
        callback: receives a :class:`RunEvent` at the start, after every
            trial and at the end.

    Running a study whose directory exists resumes it: finished trials are
    kept, trials interrupted by a dead process run again, and the budget is
    never exceeded.
    """
    overrides = list(overrides)
    if isinstance(spec, StudySpec):
        if overrides:
            spec = spec_from_dict(spec.model_dump(mode="json", exclude_none=True), overrides)
    else:
        spec = load_spec(spec, overrides)
    root = Path(runs_dir) / spec.study.name
    _prepare_dir(spec, root)
    device = resolve_device(spec.study.device)
    data = spec.data
    dataset = load_dataset(
        data.dataset,
        split=(data.split[0], data.split[1], data.split[2]),
        scale=data.scale,
        seed=spec.study.seed,
        path=data.path,
        target=data.target,
        max_samples=data.max_samples,
        cache_dir=data.cache_dir,
    )
    study_dir = StudyDir(root)
    study_dir.trials.mkdir(parents=True, exist_ok=True)
    write_text(study_dir.spec_file, spec.to_toml())
    if not study_dir.provenance.exists():
        info = {
            "name": dataset.name,
            "source": dataset.source,
            "fingerprint": dataset.fingerprint,
            "n_train": dataset.n_train,
            "n_val": dataset.n_val,
            "n_test": dataset.n_test,
            "n_features": dataset.n_features,
            "n_classes": dataset.n_classes,
        }
        write_json(
            study_dir.provenance,
            collect_provenance(seed=spec.study.seed, data=info, device=str(device)),
        )
    runner = _Runner(spec, root, dataset, device, callback)
    runner.loop()
    return Study(root)
