"""How each hyperparameter relates to the metric: Spearman ρ, its bootstrap CI, a verdict."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from sweeplab.analysis._frame import StudyFrame
from sweeplab.analysis._stats import Interval, mean_ci, spearman_ci

__all__ = ["Relation", "ValueStat", "relation", "relations"]

VERDICTS = ("direct", "inverse", "none", "non-monotonic", "differs", "too few trials")


@dataclass(frozen=True)
class ValueStat:
    """The metric at one value of a factor: mean and 95% CI over its trials."""

    value: float | str
    stat: Interval


@dataclass(frozen=True)
class Relation:
    """The relation of one factor to the metric.

    ``verdict`` is ``direct``/``inverse`` when the bootstrap CI of ρ excludes 0,
    ``non-monotonic`` when an interior value beats both ends by more than
    1.96 standard errors of the noise, ``differs`` for a categorical factor
    whose groups differ (Kruskal–Wallis p < 0.05), ``too few trials`` below
    3 trials or 2 values, else ``none``.
    """

    factor: str
    n: int
    rho: Interval | None
    verdict: str
    evidence: str
    values: tuple[ValueStat, ...]


def _noise_sd(groups: list[np.ndarray], xs: np.ndarray, ys: np.ndarray) -> float:
    """Pooled within-value SD; without repeats, the residual SD of a quadratic fit (n ≥ 8)."""
    dof = sum(g.size - 1 for g in groups)
    if dof > 0:
        ss = sum(float(((g - g.mean()) ** 2).sum()) for g in groups)
        return math.sqrt(ss / dof)
    if xs.size >= 8:
        coef = np.polyfit(xs, ys, 2)
        resid = ys - np.polyval(coef, xs)
        return math.sqrt(float((resid**2).sum()) / (xs.size - 3))
    return math.nan


def _interior_extreme(groups: list[np.ndarray], xs: np.ndarray, ys: np.ndarray) -> tuple[bool, str]:
    """Whether an interior value beats both ends (a peak or a trough) beyond noise."""
    if len(groups) < 3:
        return False, ""
    means = np.array([g.mean() for g in groups])
    sizes = np.array([g.size for g in groups])
    sd = _noise_sd(groups, xs, ys)
    if not math.isfinite(sd) or sd == 0:
        return False, ""
    for sign, kind in ((1.0, "peak"), (-1.0, "trough")):
        inner = 1 + int(np.argmax(sign * means[1:-1]))
        gaps = []
        for end in (0, len(means) - 1):
            se = sd * math.sqrt(1 / sizes[inner] + 1 / sizes[end])
            gaps.append(sign * (means[inner] - means[end]) / se)
        if min(gaps) > 1.96:
            return True, f"{kind} at index {inner}, both ends ≥ {min(gaps):.1f} SE away"
    return False, ""


def relation(rows: pd.DataFrame, factor: str, numeric: bool) -> Relation:
    """The relation of ``factor`` to ``rows['metric']`` (see :class:`Relation`)."""
    data = rows[[factor, "metric"]].dropna()
    n = len(data)
    keys = sorted(data[factor].unique(), key=lambda v: (str(type(v)), v))
    groups = [data.loc[data[factor] == k, "metric"].to_numpy(float) for k in keys]
    values = tuple(ValueStat(k, mean_ci(g)) for k, g in zip(keys, groups, strict=True))
    if n < 3 or len(keys) < 2:
        return Relation(factor, n, None, "too few trials", f"n={n}, {len(keys)} value(s)", values)
    if not numeric:
        if all(g.size == 1 for g in groups) or np.ptp(data["metric"].to_numpy(float)) == 0:
            best = max(values, key=lambda v: v.stat.value)
            return Relation(
                factor, n, None, "none", f"no repeats to test; best {best.value} (n={n})", values
            )
        p = float(stats.kruskal(*groups).pvalue)
        best = max(values, key=lambda v: v.stat.value)
        verdict = "differs" if p < 0.05 else "none"
        return Relation(
            factor, n, None, verdict, f"Kruskal–Wallis p={p:.3g}, best {best.value} (n={n})", values
        )
    xs = np.log(data[factor].to_numpy(float)) if _logscale(keys) else data[factor].to_numpy(float)
    ys = data["metric"].to_numpy(float)
    rho = spearman_ci(xs, ys)
    evidence = f"ρ={rho.text('.2f')}"
    if rho.excludes_zero():
        verdict = "direct" if rho.value > 0 else "inverse"
    else:
        bent, why = _interior_extreme(groups, xs, ys)
        if bent:
            verdict = "non-monotonic"
            evidence += f"; {why.replace(f'index {_idx(why)}', f'{factor}={_at(keys, why)}')}"
        else:
            verdict = "none"
    return Relation(factor, n, rho, verdict, evidence, values)


def _idx(why: str) -> int:
    return int(why.split("index ")[1].split(",")[0])


def _at(keys: list[float | str], why: str) -> str:
    return f"{keys[_idx(why)]:g}" if not isinstance(keys[_idx(why)], str) else str(keys[_idx(why)])


def _logscale(keys: list[float | str]) -> bool:
    nums = [float(k) for k in keys]
    return min(nums) > 0 and max(nums) / min(nums) >= 16


def relations(sf: StudyFrame) -> list[Relation]:
    """One :class:`Relation` per factor the design varied, in factor order."""
    return [relation(sf.rows_for(f), f, sf.is_numeric(f)) for f in sf.factors]
