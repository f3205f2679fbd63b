"""Trials the engine trains as fused groups: the built-in MLP (and, subclassed, a factory).

Planned points (grid, ofat, configs) are created RUNNING with their params and
owner in one storage write, so a kill can never leave a half-made trial;
sampled trials come from ``study.ask()`` with define-by-run suggestions. A
batch is split into groups by the engine's planner, each group trains as one
stacked model, and each trial's folds (with ``data.cv``) are members of its
group.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

import optuna
import torch
from optuna.trial import TrialState

from sweeplab.data import Dataset
from sweeplab.engine import (
    LaneJob,
    MemberResult,
    MemberSpec,
    derive_seed,
    lane_groups,
    plan_groups,
    train_group_splitting,
    train_in_lanes,
)
from sweeplab.search import (
    DESIGN_STRATEGIES,
    Point,
    design_points,
    make_pruner,
    make_sampler,
    model_based,
    suggest,
)
from sweeplab.spec import StudySpec, TrainParams
from sweeplab.store import is_disk_full
from sweeplab.study._ask import OwnedAsker
from sweeplab.study._bridge import (
    fold_members,
    group_data,
    member_spec,
    sampled_params,
    study_dtype,
)
from sweeplab.study._budget import max_epochs, study_budget
from sweeplab.study._chunk import Chunk
from sweeplab.study._confirm import confirm_top
from sweeplab.study._loop import (
    ATTR_CONFIG,
    ATTR_OWNER,
    ATTR_POINT,
    ATTR_SEED,
    Runner,
    Running,
    TrialSource,
)
from sweeplab.study._rebuild import search_distributions
from sweeplab.track import Tracker, make_trackers

__all__ = ["FusedSource", "point_seed"]

_log = logging.getLogger(__name__)

Trainer = Callable[..., list[MemberResult]]


def point_seed(study_seed: int, key: str) -> int:
    """The seed of a planned point: its key hashed, so it does not depend on run order."""
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    return derive_seed(study_seed, digest)


class FusedSource(TrialSource):
    """Built-in MLP trials, asked as planned points or sampled, trained as fused groups."""

    def __init__(
        self,
        spec: StudySpec,
        dataset: Dataset,
        device: torch.device,
        folds: Sequence[tuple[Any, Any]] = (),
    ) -> None:
        self.spec = spec
        self.dataset = dataset
        self.device = device
        self.dtype = study_dtype(spec)
        self.strategy = spec.search.strategy
        self.points = design_points(spec)
        self.budget = study_budget(spec, self.points)
        self.directions = [spec.direction]
        self.folds = list(folds)
        self.n_folds = len(self.folds)
        self.n_val = (
            round(sum(len(va) for _, va in self.folds) / self.n_folds)
            if self.folds
            else dataset.n_val
        )
        self.group_data = group_data(dataset, device, self.dtype, self.folds)
        self.groups_run = 0
        self._dists = search_distributions(spec)

    # ---- Optuna ------------------------------------------------------------------

    def sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        return make_sampler(self.strategy, derive_seed(self.spec.study.seed, seed) % 2**32)

    def pruner(self) -> optuna.pruners.BasePruner:
        search = self.spec.search
        return make_pruner(
            self.strategy,
            max(max_epochs(self.spec), 1),
            search.min_resource,
            search.reduction_factor,
        )

    def trackers(self, runner: Runner) -> list[Tracker]:
        return make_trackers(
            self.spec, runner.dir.root, self.dataset.n_features, self.dataset.n_classes
        )

    def ask_size(self) -> int:
        if self.spec.search.group_size:
            return self.spec.search.group_size
        if model_based(self.strategy):
            return max(1, min(8, self.budget // 5))
        return 256

    def after_budget(self, runner: Runner) -> None:
        if self.spec.search.confirm_top:
            confirm_top(runner, self.dataset, self.device, self.dtype, self.n_val)

    # ---- asking ------------------------------------------------------------------

    def _taken_points(self, runner: Runner) -> set[str]:
        taken = set()
        for t in runner.trials():
            key = t.user_attrs.get(ATTR_POINT)
            if key is not None and (
                runner.counts(t) or (t.state == TrialState.RUNNING and runner.alive(t))
            ):
                taken.add(key)
        return taken

    def _running(
        self, trial: optuna.Trial, params: TrainParams, seed: int, point: Point | None
    ) -> Running:
        return Running(
            trial,
            params.flat(),
            seed,
            point_key=point.key if point else None,
            point=point.params if point else {},
            label=point.label if point else self.strategy,
            config=params,
        )

    def _ask_point(self, runner: Runner, point: Point) -> Running:
        """Create the planned trial, RUNNING and owned, in one storage write."""
        dists = self._dists
        fixed = {
            k: v
            for k, v in point.params.items()
            if k in dists and dists[k]._contains(dists[k].to_internal_repr(v))
        }
        params = TrainParams.model_validate({**self.spec.params.model_dump(), **point.params})
        seed = point_seed(self.spec.study.seed, point.key)
        template = optuna.trial.create_trial(
            state=TrialState.RUNNING,
            params=fixed,
            distributions={k: dists[k] for k in fixed},
            user_attrs={
                ATTR_OWNER: runner.owner,
                ATTR_CONFIG: params.flat(),
                ATTR_SEED: seed,
                ATTR_POINT: point.key,
            },
        )
        study = runner.study
        trial_id = study._storage.create_new_trial(study._study_id, template_trial=template)
        return self._running(optuna.Trial(study, trial_id), params, seed, point)

    def ask(self, runner: Runner, n: int) -> list[Running]:
        taken = self._taken_points(runner)
        pending = [p for p in self.points if p.key not in taken]
        asked = [self._ask_point(runner, point) for point in pending[:n]]
        if self.strategy not in DESIGN_STRATEGIES:
            asker = OwnedAsker(runner.study, runner.owner)
            for _ in range(n - len(asked)):
                trial = asker.ask()
                chosen = suggest(trial, self.spec.search.space, self.spec.params)
                params = sampled_params(self.spec, chosen)
                # Neither config nor seed is stored (each one fsynced journal write a
                # trial): they follow from the study file, the trial's suggestions and
                # its number; reproduce derives them the same way.
                seed = derive_seed(self.spec.study.seed, trial.number)
                asked.append(self._running(trial, params, seed, None))
        return asked

    # ---- training ----------------------------------------------------------------

    def members(self, item: Running) -> list[MemberSpec]:
        """The engine members of a trial: one per fold (itself, without folds)."""
        return fold_members(member_spec(item.config, item.seed), self.n_folds)

    def train(self, runner: Runner, batch: Sequence[Running]) -> None:
        """Train ``batch`` as the planner's groups; latency-bound ones side by side in lanes.

        No group but the batch's first starts once ``search.timeout`` has
        passed: the trials of the others are given back (not counted) and run
        when the study is run again.
        """
        bases = [member_spec(item.config, item.seed) for item in batch]
        groups = plan_groups(
            bases,
            self.dataset.n_features,
            self.dataset.n_classes,
            self.device,
            cap=self.spec.search.group_size,
            dtype=self.dtype,
            unit=max(1, self.n_folds),
        )
        plans = [[m for i in g for m in self.members(batch[i])] for g in groups]
        rows = len(self.folds[0][0]) if self.folds else self.dataset.n_train
        lanes, laned = 0, list[int]()
        if isinstance(runner.study.pruner, optuna.pruners.NopPruner):
            # A pruner's answer depends on the reports it has seen, which lanes
            # would deliver in timing order: pruned studies train in-process.
            lanes, laned = lane_groups(
                plans, self.dataset.n_features, self.dataset.n_classes, rows, self.device
            )
        order = [g for g in range(len(groups)) if g not in laned]
        for n, g in enumerate(order):
            if n and runner.out_of_time():
                for late in [*order[n:], *laned]:
                    for i in groups[late]:
                        runner.interrupt(batch[i])
                return
            items = [batch[i] for i in groups[g]]
            self.train_chunk(runner, items, plans[g], train_group_splitting)
        if laned and order and runner.out_of_time():
            for g in laned:
                for i in groups[g]:
                    runner.interrupt(batch[i])
        elif laned:
            self.train_lanes(
                runner,
                [[batch[i] for i in groups[g]] for g in laned],
                [plans[g] for g in laned],
                lanes,
            )

    def train_lanes(
        self,
        runner: Runner,
        items: list[list[Running]],
        plans: list[list[MemberSpec]],
        lanes: int,
    ) -> None:
        """Train each ``items[g]`` (members ``plans[g]``) as a group, ``lanes`` at a time."""
        chunks = [self.chunk(runner, group, lanes) for group in items]
        _log.info("training %d latency-bound groups in %d lanes", len(chunks), lanes)
        jobs = [
            LaneJob(plan, chunk.on_epoch, chunk.on_end, chunk.fail, chunk.per)
            for chunk, plan in zip(chunks, plans, strict=True)
        ]
        try:
            skipped = train_in_lanes(jobs, self.group_data, lanes, stop=runner.out_of_time)
        except KeyboardInterrupt:
            for chunk in chunks:
                chunk.interrupt()
            raise
        for j in skipped:
            chunks[j].interrupt()

    def finish(
        self,
        runner: Runner,
        item: Running,
        result: MemberResult,
        group: str,
        index: int = 0,
        numbers: list[int] | None = None,
        **extra: Any,
    ) -> None:
        """Record one trial from the engine's result."""
        objective = None
        if result.val is not None:
            objective = result.val[self.spec.study.objective.removeprefix("val_")]
        confusion = None
        if result.val_confusion is not None:
            confusion = {
                "classes": list(self.dataset.classes),
                "val": result.val_confusion,
                "test": result.test_confusion,
            }
        runner.finish(
            item,
            result.state,
            curves=result.curves,
            confusion=confusion,
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
            n_val=self.n_val,
            threads=result.threads,
            **extra,
        )

    def train_chunk(
        self,
        runner: Runner,
        items: list[Running],
        members: list[MemberSpec],
        trainer: Trainer,
    ) -> None:
        """Train ``items`` as one group; ``members`` are their folds, ``n_folds`` per item."""
        chunk = self.chunk(runner, items)
        try:
            trainer(
                members,
                self.group_data,
                on_epoch=chunk.on_epoch,
                on_end=chunk.on_end,
                unit=chunk.per,
            )
        except KeyboardInterrupt:
            chunk.interrupt()
            raise
        except Exception as exc:
            if is_disk_full(exc):  # the group did not fail; the study stops
                raise
            _log.exception("group %s failed", chunk.group)
            chunk.fail(f"{type(exc).__name__}: {exc}")

    def chunk(self, runner: Runner, items: list[Running], lanes: int = 0) -> Chunk:
        """The callbacks that record ``items`` while they train as one group."""
        self.groups_run += 1
        group = f"{runner.owner.replace(':', '-')}-{self.groups_run:04d}"
        return Chunk(self, runner, items, group, lanes)
