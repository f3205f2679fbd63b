"""Re-train recorded trials and compare every number with the record.

A trial is re-trained in the group it was trained in (same members, same
order, pruned members stopped at the same epoch), from its recorded config
and seed, on data whose fingerprint must match. On the CPU the result is
bit-identical; on a GPU it is compared within ``GPU_TOLERANCE``.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
import torch

from sweeplab.engine import (
    EpochCallback,
    MemberResult,
    MemberSpec,
    derive_seed,
    train_group,
    train_modules,
)
from sweeplab.errors import DataError, RefusedError, SpecError, StudyError
from sweeplab.spec import TrainParams, load_callable
from sweeplab.store import (
    Study,
    TrialRecord,
    collect_provenance,
    open_storage,
    read_confusion,
    read_curves,
    read_provenance,
)
from sweeplab.study._bridge import (
    fold_members,
    group_data,
    load_study_data,
    member_spec,
    merge_folds,
    resolve_device,
    sampled_params,
    study_dtype,
    study_folds,
)
from sweeplab.study._custom import build_module
from sweeplab.study._loop import ATTR_CONFIG, ATTR_SEED

__all__ = ["GPU_TOLERANCE", "Mismatch", "ReproReport", "reproduce"]

_log = logging.getLogger(__name__)

GPU_TOLERANCE = 1e-4
"""Absolute tolerance on every metric when reproducing on a GPU (kernels may
reorder reductions between runs); on the CPU reproduction is exact."""


@dataclass(frozen=True)
class Mismatch:
    """One recorded number that the re-run did not reproduce."""

    trial: int
    what: str
    recorded: Any
    reproduced: Any


@dataclass
class ReproReport:
    """What was re-trained, how it compared, and what differs from the provenance."""

    trials: list[int]
    tolerance: float
    checked: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _environment_warnings(recorded: dict[str, Any], device: torch.device) -> list[str]:
    now = collect_provenance(seed=0, data={}, device=str(device))
    out = []
    for key, old in sorted(recorded.get("versions", {}).items()):
        new = now["versions"].get(key)
        if old != new:
            out.append(f"{key} is {new}, but the study ran with {old}")
    for key in ("cpu", "gpu", "device", "torch_threads"):
        old, new = recorded.get("platform", {}).get(key), now["platform"].get(key)
        if old != new:
            out.append(f"{key} is {new}, but the study ran with {old}")
    return out


def _select(
    study: Study, trials: Sequence[int], best: bool, sample: int | None, seed: int
) -> list[TrialRecord]:
    records = {r.number: r for r in study.records()}
    chosen: list[int] = list(trials)
    if best:
        top = study.best()
        if top is None:
            raise StudyError("--best needs a complete trial, but the study has none")
        chosen.append(top.number)
    if sample:
        finished = sorted(n for n, r in records.items() if r.state != "failed")
        chosen += random.Random(seed).sample(finished, min(sample, len(finished)))
    if not chosen:
        top = study.best()
        chosen = [top.number] if top else []
    missing = [n for n in chosen if n not in records]
    if missing:
        raise SpecError(f"--trial must name finished trials, but {missing} have no record")
    return [records[n] for n in dict.fromkeys(chosen)]


def _group_members(
    study: Study, record: TrialRecord
) -> list[tuple[int, MemberSpec, dict[str, Any]]]:
    """The members of ``record``'s group in training order, from records or storage."""
    records = {r.number: r for r in study.records()}
    numbers = record.group_members or [record.number]
    storage_trials: dict[int, Any] | None = None
    members = []
    for number in numbers:
        rec = records.get(number)
        if rec is not None:
            params, seed = rec.params, rec.seed
        else:
            if storage_trials is None:
                storage = open_storage(study.dir.root, study.spec.study.storage)
                loaded = optuna.load_study(study_name=study.name, storage=storage)
                storage_trials = {t.number: t for t in loaded.get_trials(deepcopy=False)}
            stored = storage_trials[number]
            attrs = stored.user_attrs
            # A sampled trial's config and seed are not stored: they follow from the
            # study file, its suggestions and its number, as when it was asked.
            params = attrs.get(ATTR_CONFIG) or sampled_params(study.spec, stored.params).flat()
            seed = attrs.get(ATTR_SEED, derive_seed(study.spec.study.seed, number))
        spec = member_spec(TrainParams.model_validate(params), int(seed))
        members.append((number, spec, dict(params)))
    return members


def _close(a: Any, b: Any, tol: float) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        fa, fb = float(a), float(b)
        if math.isnan(fa) and math.isnan(fb):
            return True
        return fa == fb if tol == 0 else abs(fa - fb) <= tol
    return bool(a == b)


def _compare(
    record: TrialRecord,
    result: MemberResult,
    curves: list[dict[str, float]],
    confusion: dict[str, Any] | None,
    tol: float,
) -> list[Mismatch]:
    out: list[Mismatch] = []

    def check(what: str, old: Any, new: Any) -> None:
        if not _close(old, new, tol):
            out.append(Mismatch(record.number, what, old, new))

    check("state", record.state, result.state)
    check("epochs_trained", record.epochs_trained, result.epochs)
    check("train_steps", record.train_steps, result.train_steps)
    for split in ("val", "test"):
        old, new = getattr(record, split) or {}, getattr(result, split) or {}
        for key in sorted(set(old) | set(new)):
            check(f"{split}_{key}", old.get(key), new.get(key))
    check("curves.epochs", len(curves), len(result.curves))
    for old_row, new_row in zip(curves, result.curves, strict=False):
        for key in sorted(old_row):
            if key not in ("elapsed_s", "epoch"):
                check(f"epoch {int(old_row['epoch'])} {key}", old_row[key], new_row.get(key))
    if confusion is not None:
        check("val confusion", confusion.get("val"), result.val_confusion)
        check("test confusion", confusion.get("test"), result.test_confusion)
    return out


def _stopper(stops: dict[int, int]) -> EpochCallback:
    """Prune each member at the epoch its record says it was pruned."""

    def on_epoch(epoch: int, reports: dict[int, dict[str, float]]) -> list[int]:
        return [m for m in reports if stops.get(m) == epoch]

    return on_epoch


def reproduce(
    path: str,
    *,
    trials: Iterable[int] = (),
    best: bool = False,
    sample: int | None = None,
    tolerance: float | None = None,
) -> ReproReport:
    """Re-train the chosen trials of the study at ``path`` and compare them.

    With no selection the best trial is reproduced. ``tolerance`` defaults to
    0 (bit-identical) on the CPU and :data:`GPU_TOLERANCE` on a GPU.
    """
    study = Study(path)
    spec = study.spec
    if spec.objective is not None:
        raise RefusedError(
            "reproduce must be given a study sweeplab trains, but this study's trials are the "
            f"user's objective ({spec.objective.target}); re-run the objective to check it"
        )
    selected = _select(study, list(trials), best, sample, spec.study.seed)
    provenance = read_provenance(study.dir.provenance)
    device = resolve_device(spec.study.device)
    tol = tolerance if tolerance is not None else (0.0 if device.type == "cpu" else GPU_TOLERANCE)
    report = ReproReport([r.number for r in selected], tol)
    report.warnings = _environment_warnings(provenance, device)
    threads = provenance.get("platform", {}).get("torch_threads")
    if isinstance(threads, int) and threads != torch.get_num_threads():
        torch.set_num_threads(threads)
    dataset = load_study_data(spec)
    recorded_fp = provenance.get("data", {}).get("fingerprint")
    if recorded_fp and recorded_fp != dataset.fingerprint:
        raise DataError(
            f"data fingerprint must match the study's ({recorded_fp[:12]}…), "
            f"but the data now gives {dataset.fingerprint[:12]}…"
        )
    dtype = study_dtype(spec)
    folds = study_folds(spec, dataset)
    per = max(1, len(folds))
    data = group_data(dataset, device, dtype, folds)
    records = {r.number: r for r in study.records()}
    done_groups: set[str] = set()
    for record in selected:
        if record.group in done_groups:
            continue
        done_groups.add(record.group)
        members = _group_members(study, record)
        stops = {
            pos * per + f: records[n].epochs_trained
            for pos, (n, _, _) in enumerate(members)
            if n in records and records[n].state == "pruned"
            for f in range(per)
        }
        expanded = [f for _, m, _ in members for f in fold_members(m, len(folds))]
        if spec.model.factory:
            factory = load_callable(spec.model.factory, what="model.factory")
            modules = [
                build_module(
                    factory,
                    params,
                    f.seeds()[0],
                    dataset.n_features,
                    dataset.n_classes,
                )
                for _, m, params in members
                for f in fold_members(m, len(folds))
            ]
            trained = train_modules(modules, expanded, data, on_epoch=_stopper(stops))
        else:
            # The group's recorded thread count (records before it was kept: the engine's choice).
            threads = record.threads if device.type == "cpu" else None
            trained = train_group(expanded, data, on_epoch=_stopper(stops), threads=threads)
        results = trained
        if folds:
            objective = spec.study.objective
            results = [
                merge_folds(trained[i * per : (i + 1) * per], objective)[0]
                for i in range(len(members))
            ]
        for pos, (number, _, _) in enumerate(members):
            if number not in report.trials:
                continue
            target = records[number]
            trial_dir = study.dir.trial(number)
            confusion = read_confusion(trial_dir)
            report.checked += 1
            report.mismatches += _compare(
                target, results[pos], read_curves(trial_dir), confusion, tol
            )
    _log.info("reproduced %d trials, %d mismatches", report.checked, len(report.mismatches))
    return report
