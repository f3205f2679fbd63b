"""Confirmation: re-train the best configs on fresh folds and seeds, then pick the winner.

Picking the best of many trials by one noisy validation score rewards luck
(the winner's curse). After the search, the top ``search.confirm_top`` configs
are trained again, as one fused group, on ``confirm_repeats`` fresh splits of
train+val (k-fold reshuffled when the study uses ``data.cv``, random
stratified splits otherwise) with fresh seeds, and the winner is the best mean
of those scores. Both rankings go to ``confirm.json``; the test set is still
only reported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from sweeplab.data import Dataset
from sweeplab.engine import MemberResult, derive_seed, plan_groups, train_group_splitting
from sweeplab.spec import TrainParams
from sweeplab.store import TrialRecord, confirmed_settings, write_confirmation
from sweeplab.study._bridge import (
    fold_members,
    fold_sizes,
    group_data,
    member_spec,
    merge_folds,
    study_folds,
)
from sweeplab.study._events import RunEvent
from sweeplab.study._loop import Runner

__all__ = ["confirm_top"]

_log = logging.getLogger(__name__)

_SALT = 0xC0F1


@dataclass
class _Candidate:
    trial: int
    params: dict[str, Any]
    trials: list[int]
    search_value: float
    search_se: float | None
    results: list[MemberResult] = field(default_factory=list)


def _candidates(
    records: Sequence[TrialRecord], maximize: bool, metric: str, n_val: int | None
) -> list[_Candidate]:
    """Complete configs (seed repeats share one) with the report's scores, best first."""
    from sweeplab.analysis import config_scores  # scipy: loaded only when confirming

    by_number = {r.number: r for r in records}
    sign = -1.0 if maximize else 1.0
    scores = sorted(
        config_scores(records, metric=metric, n_val=n_val),
        key=lambda s: (sign * s.value, s.trial),
    )
    return [
        _Candidate(
            trial=s.trial,
            params=by_number[s.trial].params,
            trials=sorted(s.trials),
            search_value=s.value,
            search_se=s.se,
        )
        for s in scores
    ]


def confirm_top(
    runner: Runner, dataset: Dataset, device: torch.device, dtype: torch.dtype, n_val: int
) -> dict[str, Any] | None:
    """Run the confirmation phase of ``runner``'s finished study and return ``confirm.json``.

    ``None`` when it is not asked for, already ran with the same settings, or
    no candidate could be scored. Candidates whose re-training failed are
    listed under ``failed``, not ranked.
    """
    spec = runner.spec
    top = spec.search.confirm_top
    if not top:
        return None
    cross = spec.data.cv is not None
    repeats = spec.search.confirm_repeats or (2 if cross else 5)
    path = runner.dir.confirmation
    if confirmed_settings(path) == (top, repeats):
        return None
    start = time.perf_counter()
    records = runner.dir.records()
    candidates = _candidates(records, runner.maximize, spec.study.objective, n_val)[:top]
    if not candidates:
        _log.warning("confirmation skipped: no complete trial to confirm")
        return None
    folds = study_folds(spec, dataset, repeats=repeats, salt=_SALT)
    per = len(folds)
    data = group_data(dataset, device, dtype, folds)
    bases = [
        member_spec(
            TrainParams.model_validate(c.params), derive_seed(spec.study.seed, _SALT, c.trial)
        )
        for c in candidates
    ]
    callback = runner.callback
    if callback is not None:
        callback(RunEvent("confirm", 0, len(candidates)))
    finished = 0
    for group in plan_groups(
        bases,
        dataset.n_features,
        dataset.n_classes,
        device,
        cap=spec.search.group_size,
        dtype=dtype,
        unit=per,
    ):
        members = [f for i in group for f in fold_members(bases[i], per)]
        results = train_group_splitting(members, data, unit=per)
        for pos, i in enumerate(group):
            candidates[i].results = results[pos * per : (pos + 1) * per]
        finished += len(group)
        if callback is not None:
            callback(RunEvent("confirm", finished, len(candidates)))
    objective = spec.study.objective
    rows = []
    failed = []
    for rank, c in enumerate(candidates, start=1):
        merged, extra = merge_folds(c.results, objective, fold_sizes(data.folds))
        value = None if merged.val is None else merged.val[objective.removeprefix("val_")]
        fold_values = [(f["val"] or {}).get(objective.removeprefix("val_")) for f in extra["folds"]]
        if value is None:
            failed.append({"trial": c.trial, "search_rank": rank, "reason": merged.reason})
            continue
        rows.append(
            {
                "trial": c.trial,
                "trials": c.trials,
                "params": c.params,
                "search_value": c.search_value,
                "search_se": c.search_se,
                "search_rank": rank,
                "confirm_value": value,
                "confirm_se": extra["objective_se"],
                "confirm_values": fold_values,
                "test": merged.test,
            }
        )
    if not rows:
        _log.warning("confirmation failed for every candidate: %s", failed[0]["reason"])
        return None
    sign = -1.0 if runner.maximize else 1.0
    rows.sort(key=lambda r: (sign * r["confirm_value"], r["search_rank"]))
    for rank, row in enumerate(rows, start=1):
        row["confirm_rank"] = rank
    winner = rows[0]["trial"]
    result = {
        "objective": objective,
        "direction": spec.direction,
        "top": top,
        "repeats": repeats,
        "folds_per_repeat": spec.data.cv or 1,
        "n_folds": per,
        "candidates": sorted(rows, key=lambda r: r["search_rank"]),
        "failed": failed,
        "winner": winner,
        "search_winner": candidates[0].trial,
        "changed": winner != candidates[0].trial,
        "seconds": round(time.perf_counter() - start, 3),
    }
    write_confirmation(path, result)
    _log.info(
        "confirmed the top %d configs on %d fresh folds each: winner trial %s",
        len(candidates),
        per,
        winner,
    )
    return result
