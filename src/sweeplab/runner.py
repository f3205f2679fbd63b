"""The runner: ask a batch of trials, train them as fused groups, tell, store.

It is a thin loop over the three layers. The search layer (Optuna, plus
planned design points) decides which configs run; the engine trains them;
the store keeps what happened. Every trial is recorded on disk before it is
told to Optuna, so a kill at any moment loses at most the trials in flight,
and those are detected and re-run on resume.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import math
import shutil
import statistics
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

from sweeplab import _interrupt
from sweeplab.data import Dataset, load_dataset
from sweeplab.data._split import fold_indices
from sweeplab.engine import (
    GroupData,
    MemberResult,
    MemberSpec,
    configure_device,
    derive_seed,
    plan_groups,
    train_group_splitting,
)
from sweeplab.errors import SpecError, StudyError
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
from sweeplab.store._workers import Heartbeat, claim_lock, owner_alive
from sweeplab.track import Tracker, make_trackers

__all__ = [
    "RunEvent",
    "fold_members",
    "group_data",
    "join",
    "load_study_data",
    "member_spec",
    "open_storage",
    "prepare",
    "resolve_device",
    "run",
    "study_budget",
    "study_folds",
]

_log = logging.getLogger(__name__)

DEFAULT_TRIALS = 20
_ATTR_CONFIG = "sweeplab.config"
_ATTR_SEED = "sweeplab.seed"
_ATTR_POINT = "sweeplab.point"
_ATTR_OWNER = "sweeplab.owner"
_ATTR_INTERRUPTED = "sweeplab.interrupted"
_ATTR_REASON = "sweeplab.reason"
_RESUMABLE = (
    "search.trials",
    "search.group_size",
    "search.confirm_top",
    "search.confirm_repeats",
    "study.device",
    "study.backend",
    "track",
)

optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass(frozen=True)
class RunEvent:
    """Progress of a run, for the CLI's progress bar (the library never prints)."""

    kind: Literal["start", "trial", "confirm", "end"]
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


def load_study_data(spec: StudySpec) -> Dataset:
    """The dataset of a study, split and scaled as its spec says."""
    data = spec.data
    return load_dataset(
        data.dataset,
        split=(data.split[0], data.split[1], data.split[2]),
        scale=data.scale,
        seed=spec.study.seed,
        path=data.path,
        target=data.target,
        max_samples=data.max_samples,
        cache_dir=data.cache_dir,
        scale_on="train+val" if _cross_validated(spec) else "train",
    )


def _cross_validated(spec: StudySpec) -> bool:
    return spec.data.cv is not None or spec.data.split_repeats is not None


Folds = list[tuple[Any, Any]]

_FOLD_SALT = 0xF01D


def study_folds(
    spec: StudySpec, dataset: Dataset, *, repeats: int | None = None, salt: int = 0
) -> Folds:
    """The ``(train_rows, val_rows)`` of each fold of train+val, or ``[]`` without CV.

    Rows index the pool ``cat(x_train, x_val)``. ``repeats`` and ``salt``
    give the fresh folds a confirmation phase trains on.
    """
    if not _cross_validated(spec) and repeats is None:
        return []
    y = torch.cat([dataset.y_train, dataset.y_val]).numpy()
    fractions = spec.data.split
    return fold_indices(
        y,
        cv=spec.data.cv,
        repeats=repeats or spec.data.split_repeats,
        val_fraction=fractions[1] / (fractions[0] + fractions[1]),
        seed=derive_seed(spec.study.seed, _FOLD_SALT, salt),
    )


def fold_members(member: MemberSpec, n_folds: int) -> list[MemberSpec]:
    """The members that train ``member`` once per fold (itself, without folds)."""
    if n_folds == 0:
        return [member]
    return [
        dataclasses.replace(member, seed=derive_seed(member.seed, _FOLD_SALT, f), fold=f)
        for f in range(n_folds)
    ]


def group_data(
    dataset: Dataset, device: torch.device, dtype: torch.dtype, folds: Folds | None = None
) -> GroupData:
    """The dataset's tensors on ``device`` in ``dtype``, as the engine takes them.

    With ``folds``, train and val are joined into the pool the fold rows index.
    """
    x_train, y_train = dataset.x_train, dataset.y_train
    if folds:
        x_train = torch.cat([dataset.x_train, dataset.x_val])
        y_train = torch.cat([dataset.y_train, dataset.y_val])
    return GroupData.from_tensors(
        [x_train, y_train, dataset.x_val, dataset.y_val, dataset.x_test, dataset.y_test],
        dataset.n_classes,
        device=device,
        dtype=dtype,
        folds=folds or (),
    )


def merge_folds(
    results: Sequence[MemberResult], objective: str
) -> tuple[MemberResult, dict[str, Any]]:
    """One trial's result from its folds' results, and the record fields of the folds.

    Metrics are means over folds; confusion matrices are summed; any failed
    fold fails the trial, any pruned one prunes it.
    """
    first = results[0]
    failed = [(f, r) for f, r in enumerate(results) if r.state == "failed"]
    merged = MemberResult(
        state="failed"
        if failed
        else ("pruned" if any(r.state == "pruned" for r in results) else "complete"),
        reason=f"fold {failed[0][0]}: {failed[0][1].reason}" if failed else first.reason,
        epochs=max(r.epochs for r in results),
        train_steps=sum(r.train_steps for r in results),
        duration_s=max(r.duration_s for r in results),
        group_size=first.group_size,
    )
    for rows in zip(*(r.curves for r in results), strict=False):
        row = _mean_row(rows)
        row["epoch"], row["elapsed_s"] = rows[0]["epoch"], max(x["elapsed_s"] for x in rows)
        merged.curves.append(row)
    se = None
    if not failed:
        merged.val = _mean_dicts([r.val for r in results])
        merged.test = _mean_dicts([r.test for r in results])
        merged.val_confusion = _sum_matrices([r.val_confusion for r in results])
        merged.test_confusion = _sum_matrices([r.test_confusion for r in results])
        name = objective.removeprefix("val_")
        scores = [r.val[name] for r in results if r.val is not None]
        if len(scores) >= 2:
            se = statistics.stdev(scores) / math.sqrt(len(scores))
    folds = [
        {"fold": f, "state": r.state, "epochs": r.epochs, "val": r.val, "test": r.test}
        for f, r in enumerate(results)
    ]
    return merged, {"folds": folds, "objective_se": se}


def _mean_row(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    """The key-wise mean of metric rows with the same keys (the folds of one trial)."""
    return {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}


def _mean_dicts(dicts: Sequence[dict[str, float] | None]) -> dict[str, float] | None:
    clean = [d for d in dicts if d is not None]
    if len(clean) != len(dicts) or not clean:
        return None
    return _mean_row(clean)


def _sum_matrices(mats: Sequence[list[list[int]] | None]) -> list[list[int]] | None:
    clean = [m for m in mats if m is not None]
    if len(clean) != len(mats) or not clean:
        return None
    return [
        [sum(m[i][j] for m in clean) for j in range(len(clean[0][i]))] for i in range(len(clean[0]))
    ]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _open_storage(spec: StudySpec, study_dir: StudyDir) -> optuna.storages.BaseStorage:
    if spec.study.storage:
        try:
            return optuna.storages.RDBStorage(spec.study.storage)
        except ImportError:
            raise SpecError(
                "study.storage must name a database whose driver is installed, but the driver "
                f"for {spec.study.storage.split(':', 1)[0]!r} is missing: "
                "pip install 'sweeplab[postgres]' (or the driver of your database)"
            ) from None
    path = str(study_dir.journal)
    backend = JournalFileBackend(path, lock_obj=FlockLock(path))
    return optuna.storages.JournalStorage(backend)


def study_budget(spec: StudySpec, points: Sequence[Point] | None = None) -> int:
    """How many trials a study runs: its planned points (at most ``trials``) or ``trials``."""
    if spec.search.strategy in DESIGN_STRATEGIES:
        planned = len(design_points(spec) if points is None else points)
        total = min(spec.search.trials or planned, planned)
    else:
        total = spec.search.trials or DEFAULT_TRIALS
    if total < 1:
        raise SpecError(f"search.space must give at least one trial for {spec.search.strategy!r}")
    return total


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
        self.total = study_budget(spec, self.points)
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
        self.folds = study_folds(spec, dataset)
        self.n_folds = len(self.folds)
        self.n_val = (
            round(sum(len(va) for _, va in self.folds) / self.n_folds)
            if self.folds
            else dataset.n_val
        )
        self.group_data = group_data(dataset, device, self.dtype, self.folds)
        self.groups_run = 0
        self.heartbeat = Heartbeat(root)
        self._dists = self._point_distributions()
        self.trackers: list[Tracker] = make_trackers(
            spec, root, dataset.n_features, dataset.n_classes
        )

    def _storage(self) -> optuna.storages.BaseStorage:
        return _open_storage(self.spec, self.dir)

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
            if t.state != TrialState.RUNNING or self._alive(t):
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

    def _alive(self, trial: FrozenTrial) -> bool:
        owner = trial.user_attrs.get(_ATTR_OWNER)
        return owner_alive(self.dir.root, owner, self.heartbeat.owner)

    def _taken_points(self) -> set[str]:
        taken = set()
        for t in self._trials():
            key = t.user_attrs.get(_ATTR_POINT)
            if key is None:
                continue
            if self._counts(t) or (t.state == TrialState.RUNNING and self._alive(t)):
                taken.add(key)
        return taken

    def _running_elsewhere(self) -> int:
        return sum(t.state == TrialState.RUNNING and self._alive(t) for t in self._trials())

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
        return self._confirm(asked) if asked else asked

    def _confirm(self, asked: list[_Running]) -> list[_Running]:
        """Optimistic claim: keep only the trials that no earlier trial beat.

        The claim lock is an ``flock`` and only serializes processes on one
        machine. Across machines sharing an RDB, two workers can create the
        same grid point or overrun the budget at once; both then re-read the
        storage, and the trial created first (lowest storage id) wins. A
        loser is told FAIL with ``sweeplab.interrupted`` (not counted).
        """
        mine = {item.trial._trial_id for item in asked}
        holders: dict[str, int] = {}
        kept: list[_Running] = []
        rank = 0
        for t in sorted(self._trials(), key=lambda t: t._trial_id):
            live = self._counts(t) or (
                t.state == TrialState.RUNNING
                and (t._trial_id in mine or self._alive(t))
                and not t.user_attrs.get(_ATTR_INTERRUPTED)
            )
            if not live:
                continue
            key = t.user_attrs.get(_ATTR_POINT)
            if key is not None and key in holders:
                continue
            if rank >= self.total:
                continue
            rank += 1
            if key is not None:
                holders[key] = t._trial_id
            if t._trial_id in mine:
                kept.extend(i for i in asked if i.trial._trial_id == t._trial_id)
        for item in asked:
            if item not in kept:
                _log.info("trial %d: claimed elsewhere first; abandoned", item.trial.number)
                self._interrupt(item)
        return kept

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
                _ATTR_OWNER: self.heartbeat.owner,
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
        trial.set_user_attr(_ATTR_OWNER, self.heartbeat.owner)
        trial.set_user_attr(_ATTR_CONFIG, params.flat())
        trial.set_user_attr(_ATTR_SEED, seed)
        return _Running(trial, params, seed, None, _now())

    # ---- training --------------------------------------------------------------

    def train(self, batch: Sequence[_Running]) -> None:
        if self.spec.model.factory:
            from sweeplab.compat._models import train_custom

            train_custom(self, batch)
            return
        members = [member_spec(item.params, item.seed) for item in batch]
        for group in plan_groups(
            members,
            self.dataset.n_features,
            self.dataset.n_classes,
            self.device,
            cap=self.spec.search.group_size,
            dtype=self.dtype,
            unit=max(1, self.n_folds),
        ):
            self._train_chunk(
                [batch[i] for i in group],
                [f for i in group for f in fold_members(members[i], self.n_folds)],
            )

    def _train_chunk(
        self,
        items: list[_Running],
        members: list[MemberSpec],
        trainer: Callable[..., list[MemberResult]] = train_group_splitting,
    ) -> None:
        """Train ``items`` as one group; ``members`` are their folds, ``n_folds`` per item."""
        self.groups_run += 1
        group = f"{self.heartbeat.owner.replace(':', '-')}-{self.groups_run:04d}"
        done: set[int] = set()
        objective = self.spec.study.objective
        numbers = [item.trial.number for item in items]
        per = max(1, self.n_folds)
        ended: dict[int, dict[int, MemberResult]] = {i: {} for i in range(len(items))}

        for item in items:
            for tracker in self.trackers:
                tracker.trial_started(item.trial.number, item.params.flat(), item.seed)

        def on_epoch(epoch: int, reports: dict[int, dict[str, float]]) -> Iterable[int]:
            _interrupt.check()
            by_item: dict[int, list[int]] = {}
            for m in reports:
                by_item.setdefault(m // per, []).append(m)
            pruned: list[int] = []
            for i, ms in by_item.items():
                if any(r.state == "failed" for r in ended[i].values()):
                    pruned += ms
                    continue
                if len(ms) < per:
                    continue
                row = _mean_row([reports[m] for m in ms])
                trial = items[i].trial
                for tracker in self.trackers:
                    tracker.epoch_logged(trial.number, row)
                trial.report(row[objective], epoch)
                if trial.should_prune():
                    pruned += ms
            return pruned

        def on_end(m: int, result: MemberResult) -> None:
            i = m // per
            ended[i][m % per] = result
            if len(ended[i]) < per:
                return
            done.add(i)
            if per == 1:
                self._finish(items[i], result, group, i, numbers)
                _interrupt.check()
                return
            merged, extra = merge_folds([ended[i][f] for f in range(per)], objective)
            self._finish(items[i], merged, group, i, numbers, **extra)
            _interrupt.check()

        try:
            trainer(members, self.group_data, on_epoch=on_epoch, on_end=on_end, unit=per)
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
                    result = MemberResult(state="failed", reason=reason, group_size=len(items))
                    self._finish(item, result, group, m, numbers)

    def _interrupt(self, item: _Running) -> None:
        item.trial.set_user_attr(_ATTR_INTERRUPTED, True)
        self.study.tell(item.trial, state=TrialState.FAIL, skip_if_finished=True)

    def _finish(
        self,
        item: _Running,
        result: MemberResult,
        group: str,
        index: int = 0,
        numbers: list[int] | None = None,
        folds: list[dict[str, Any]] | None = None,
        objective_se: float | None = None,
    ) -> None:
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
            group_index=index,
            group_members=numbers or [item.trial.number],
            started_at=item.started_at,
            finished_at=_now(),
            objective_se=objective_se,
            n_val=self.n_val,
            folds=folds,
        )
        confusion = None
        if result.val_confusion is not None:
            confusion = {
                "classes": list(self.dataset.classes),
                "val": result.val_confusion,
                "test": result.test_confusion,
            }
        trial_dir = self.dir.trial(record.number)
        write_trial(trial_dir, record, result.curves, confusion)
        files = {p.name: p for p in sorted(trial_dir.iterdir()) if p.is_file()}
        for tracker in self.trackers:
            tracker.trial_artifacts(record.number, files)
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
            with self.heartbeat:
                self._loop()
        finally:
            for tracker in self.trackers:
                tracker.close()

    def _loop(self) -> None:
        with claim_lock(self.dir.root):
            self.recover()
        if self.callback is not None:
            self.callback(RunEvent("start", self.finished(), self.total, self.best_value()))
        while True:
            with claim_lock(self.dir.root):
                todo = self.total - self.finished() - self._running_elsewhere()
                batch = self._ask(min(todo, self.ask_size())) if todo > 0 else []
            if not batch:
                break
            self.train(batch)
            self.dir.write_summary(self.dir.records())
            _interrupt.check()
        self.dir.write_summary(self.dir.records())
        if self.spec.search.confirm_top and self.finished() >= self.total:
            from sweeplab._confirm import confirm_top

            with claim_lock(self.dir.root):
                confirm_top(self)
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
    spec, root, dataset, device = prepare(spec, runs_dir=runs_dir, overrides=overrides)
    runner = _Runner(spec, root, dataset, device, callback)
    runner.loop()
    return Study(root)


def prepare(
    spec: StudySpec | str | Path,
    *,
    runs_dir: str | Path = "runs",
    overrides: Iterable[str] = (),
) -> tuple[StudySpec, Path, Dataset, torch.device]:
    """Check a study against its directory and write study.toml and provenance.

    Returns the resolved spec, the study directory, the dataset and the
    device. Every backend calls this once before any worker joins.
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
    configure_device(device)
    dataset = load_study_data(spec)
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
    return spec, root, dataset, device


def open_storage(root: str | Path) -> None:
    """Create the study in its storage (once, before workers join concurrently)."""
    root = Path(root)
    spec = spec_from_dict(tomllib.loads(StudyDir(root).spec_file.read_text(encoding="utf-8")))
    optuna.create_study(
        study_name=spec.study.name,
        storage=_open_storage(spec, StudyDir(root)),
        direction=spec.direction,
        load_if_exists=True,
    )


def join(
    root: str | Path,
    *,
    device: str | None = None,
    callback: Callback | None = None,
    dataset: Dataset | None = None,
) -> Study:
    """Work on an existing study directory until its budget is used up.

    Several processes (on one machine, or on many sharing the directory and
    an RDB storage) can join the same study: they claim disjoint trials, and
    a trial's numbers do not depend on which process ran it.
    """
    root = Path(root)
    spec_file = StudyDir(root).spec_file
    if not spec_file.exists():
        raise StudyError(f"study directory must hold a study.toml, but {spec_file} was not found")
    raw = tomllib.loads(spec_file.read_text(encoding="utf-8"))
    spec = spec_from_dict(raw, [f"study.device={device}"] if device else [])
    if dataset is None:
        dataset = load_study_data(spec)
    runner = _Runner(spec, root, dataset, resolve_device(spec.study.device), callback)
    runner.loop()
    return Study(root)
