"""Hyperparameter importance (Optuna's fANOVA) with its spread over bootstrap resamples."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution

from sweeplab.analysis._frame import StudyFrame
from sweeplab.analysis._stats import BOOTSTRAP_SEED

__all__ = ["Importance", "importances"]

_log = logging.getLogger(__name__)
N_RESAMPLES = 100  # valid resamples wanted: a 5-95% range needs ~100 draws, not 20
MAX_ATTEMPTS = 200  # resamples drawn at most (those where a factor is constant are skipped)
MIN_RESAMPLES = 50  # fewer valid ones: no range is printed
MIN_TRIALS = 8  # and at least 2 trials per factor: a forest on fewer fits noise
N_TREES = 32
N_TREES_RESAMPLE = 16
INACTIVE = "inactive"
MAX_ROWS = 500
"""fANOVA's cost grows faster than the trials (21 forests took minutes at 3,000
trials; one fit on 1,000 took ~5 s on a busy 2-core machine). Above this many,
every fit runs on a seeded sample of this many trials, drawn without
replacement for the estimate and with replacement for each resample (an
m-out-of-n bootstrap: a wider, so conservative, range)."""
RESAMPLE_ROWS = 250
"""Trials per bootstrap resample at most. A fit's cost grows with its trials and a
range needs ``N_RESAMPLES`` fits: 100 fits of 500 trials took ~55 s of a report on
2 cores, of 250 trials ~20 s. Above this many trials each resample is an
m-out-of-n bootstrap of 250 (its range is wider, so conservative)."""


@dataclass(frozen=True)
class Importance:
    """fANOVA importance of one factor: on all trials and the 5–95% bootstrap range.

    ``low``/``high`` are ``nan`` when fewer than ``MIN_RESAMPLES`` resamples
    were valid. ``inactive`` counts the trials where a conditional parameter
    did not exist (``units2`` at depth 1); it enters the forest as its own
    value (below the range, or the category ``inactive``), so the parameter is
    kept rather than dropped.
    """

    factor: str
    value: float
    low: float
    high: float
    resamples: int
    inactive: int = 0
    rows: int = 0
    """How many trials each fit used: all of ``of``, or ``MAX_ROWS`` of more."""
    of: int = 0
    resample_rows: int = 0
    """Trials per bootstrap resample: all of ``of``, or ``RESAMPLE_ROWS`` of more."""


def _distribution(values: list[Any], numeric: bool) -> BaseDistribution:
    if numeric:
        nums = [float(v) for v in values]
        lo, hi = min(nums), max(nums)
        return FloatDistribution(lo, hi, log=lo > 0 and hi / lo >= 16)
    return CategoricalDistribution(sorted({str(v) for v in values}))


def _fill_inactive(column: pd.Series, numeric: bool) -> pd.Series:
    """A conditional parameter's missing values as one value outside its range."""
    if not numeric:
        return column.astype(object).where(column.notna(), INACTIVE)
    vals = column.dropna().astype(float)
    lo, hi = float(vals.min()), float(vals.max())
    below = lo / 2 if lo > 0 and hi / lo >= 16 else lo - max(hi - lo, 1.0) / 2
    return column.astype(float).fillna(below)


def _fanova(
    rows: list[dict[str, Any]],
    values: list[float],
    dists: dict[str, BaseDistribution],
    maximize: bool,
    seed: int,
    trees: int,
) -> dict[str, float]:
    study = optuna.create_study(direction="maximize" if maximize else "minimize")
    study.add_trials(
        [
            optuna.trial.create_trial(params=p, distributions=dists, value=v)
            for p, v in zip(rows, values, strict=True)
        ]
    )
    evaluator = optuna.importance.FanovaImportanceEvaluator(n_trees=trees, seed=seed)
    result = optuna.importance.get_param_importances(study, evaluator=evaluator, normalize=True)
    return {k: float(v) for k, v in result.items()}


def importances(sf: StudyFrame) -> list[Importance]:
    """fANOVA importances of the varied factors, largest first.

    Empty with fewer than ``MIN_TRIALS`` trials, fewer than 2 per factor, or
    fewer than 2 factors (one factor has importance 1 by construction, which
    says nothing). Each resample draws the trials with replacement (seeded)
    and refits with ``N_TREES_RESAMPLE`` trees, until ``N_RESAMPLES`` valid
    ones (a factor constant in a resample makes it invalid) or
    ``MAX_ATTEMPTS``.
    """
    frame = sf.frame
    factors = list(sf.factors)
    if len(frame) < max(MIN_TRIALS, 2 * len(factors)) or len(factors) < 2:
        return []
    data = frame[[*factors, "metric"]].dropna(subset=["metric"]).copy()
    inactive = {f: int(data[f].isna().sum()) for f in factors}
    for f in factors:
        if inactive[f] and data[f].notna().any():
            data[f] = _fill_inactive(data[f], sf.is_numeric(f))
    data = data.dropna(axis=1)
    factors = [f for f in factors if f in data.columns and data[f].nunique() > 1]
    if len(factors) < 2:
        return []
    numeric = {f: sf.is_numeric(f) and not (data[f] == INACTIVE).any() for f in factors}
    records = [
        {f: (float(r[f]) if numeric[f] else str(r[f])) for f in factors}
        for r in data.to_dict("records")
    ]
    metric = data["metric"].to_numpy(float).tolist()
    quiet = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        dists = {f: _distribution(data[f].tolist(), numeric[f]) for f in factors}
        rng = np.random.default_rng(BOOTSTRAP_SEED)
        size = min(len(records), MAX_ROWS)
        keep = (
            np.sort(rng.choice(len(records), size=size, replace=False))
            if size < len(records)
            else np.arange(size)
        )
        full = _fanova(
            [records[i] for i in keep],
            [metric[i] for i in keep],
            dists,
            sf.maximize,
            BOOTSTRAP_SEED,
            N_TREES,
        )
        draws: dict[str, list[float]] = {f: [] for f in factors}
        for b in range(MAX_ATTEMPTS):
            if len(draws[factors[0]]) >= N_RESAMPLES:
                break
            idx = rng.integers(0, len(records), size=min(size, RESAMPLE_ROWS))
            sub = [records[i] for i in idx]
            if any(len({s[f] for s in sub}) < 2 for f in factors):
                continue
            try:
                got = _fanova(
                    sub, [metric[i] for i in idx], dists, sf.maximize, b, N_TREES_RESAMPLE
                )
            except (ValueError, RuntimeError) as exc:
                _log.debug("fANOVA resample %d skipped: %s", b, exc)
                continue
            for f in factors:
                draws[f].append(got.get(f, 0.0))
    finally:
        optuna.logging.set_verbosity(quiet)
    out = []
    for f in factors:
        d = np.asarray(draws[f], dtype=float)
        low, high = (
            (float(np.quantile(d, 0.05)), float(np.quantile(d, 0.95)))
            if d.size >= MIN_RESAMPLES
            else (math.nan, math.nan)
        )
        out.append(
            Importance(
                f,
                full.get(f, 0.0),
                low,
                high,
                int(d.size),
                inactive[f],
                size,
                len(records),
                min(size, RESAMPLE_ROWS),
            )
        )
    return sorted(out, key=lambda i: (-i.value, i.factor))
