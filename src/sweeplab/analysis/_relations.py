"""How each hyperparameter relates to the metric: a calibrated verdict per factor.

Each numeric factor gets two tests (see ``_trend``): a monotone trend test
(slope t-test on the repeats' variance, or Spearman's rho with an exact
permutation p) and an interior-extreme test (intersection-union t-tests of an
interior level against both ends). A factor's p is twice the smaller of the
two (Bonferroni within the factor); categorical factors get a one-way F-test.
Holm's procedure across the study's factors turns these into verdicts, so the
chance of any false verdict in a study stays at or below ``ALPHA`` on pure
noise, at every n (``tests/analysis/test_calibration.py`` measures it). Where
nothing is detected, the evidence says the smallest change the data would have
caught with 80% power, or that no change was detectable at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from sweeplab.analysis._frame import StudyFrame
from sweeplab.analysis._stats import Interval, mean_ci
from sweeplab.analysis._trend import (
    FactorTest,
    detectable_change,
    distinct,
    factor_test,
    holm,
    levels_of,
    min_attainable_p,
    pure_error,
    shapes,
)

__all__ = ["ALPHA", "Relation", "ValueStat", "relation", "relations"]

ALPHA = 0.05
SUGGESTED = 2.0  # an interior value this many SE beyond both ends is named, even if not established
VERDICTS = ("direct", "inverse", "none", "non-monotonic", "differs", "too few trials")


@dataclass(frozen=True)
class ValueStat:
    """The metric at one value of a factor: mean and 95% CI over its trials."""

    value: float | str
    stat: Interval


@dataclass(frozen=True)
class Relation:
    """The relation of one factor to the metric.

    ``verdict``: ``direct``/``inverse`` (a monotone trend; ``direct, interior
    peak`` when the ends differ but an interior value beats both in the point
    estimates without being established as a peak), ``non-monotonic``
    (an interior value beats, or falls below, both ends; ``extreme`` names it),
    ``differs`` (a categorical factor's groups differ), ``none`` (nothing
    detected: ``detectable`` is the smallest change the data would have caught
    with 80% power at the level the factor was tested at, Holm and the
    within-factor correction included; ``nan`` when none could be), or ``too few trials`` below 3
    trials or 2 values. ``p`` is the factor's p-value, ``p_holm`` adjusted
    across the study's factors; a verdict other than none needs
    ``p_holm <= ALPHA``. ``rho`` is Spearman's rho (no interval: verdicts come
    from the tests, not from a bootstrap of rho).
    """

    factor: str
    n: int
    rho: Interval | None
    verdict: str
    evidence: str
    values: tuple[ValueStat, ...]
    p: float = math.nan
    p_holm: float = math.nan
    method: str = ""
    detectable: float = math.nan
    extreme: str = ""


@dataclass(frozen=True)
class _Raw:
    rel: Relation
    test: FactorTest | None
    bend_text: str
    se_unit: float = math.nan  # the SE of the change the detectable size is quoted for
    dof: int = 0
    tests: int = 1  # tests combined in the factor's p (Bonferroni within the factor)


def _fmt(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value:g}"


def _numeric(data: pd.DataFrame, factor: str, keys: list[float | str], rel: Relation) -> _Raw:
    raw_x = data[factor].to_numpy(float)
    xs = np.log(raw_x) if _logscale(keys) else raw_x
    Y = data["metric"].to_numpy(float)[None, :]
    test = factor_test(xs, Y)
    rho = float(stats.spearmanr(xs, Y[0]).statistic) if np.ptp(Y) > 0 else math.nan
    bend_text = ""
    if math.isfinite(float(test.p_bend[0])):
        design = levels_of(xs)
        at = int(test.bend_at[0])
        center = float(design.centers[at])
        where = (
            f"{factor}≈{_fmt(math.exp(center) if _logscale(keys) else center)}"
            if design.binned
            else f"{factor}={_fmt(keys[at])}"
        )
        bend_text = f"{'peak' if test.bend_sign[0] > 0 else 'trough'} at {where}"
    # The smallest detectable change across the range, from the noise this design sees.
    sd, sd_dof = pure_error(distinct(xs), Y)
    if sd_dof < 2 and xs.size >= 4:
        coef = np.polyfit(xs, Y[0], min(2, xs.size - 2))
        resid = Y[0] - np.polyval(coef, xs)
        sd_dof = xs.size - min(3, xs.size - 1)
        sd = np.array([math.sqrt(float((resid**2).sum()) / sd_dof)])
    cx = xs - xs.mean()
    se_range = float(sd[0]) * float(np.ptp(xs)) / math.sqrt(float((cx**2).sum()))
    if sd_dof < 1 or (test.dof == 0 and min_attainable_p(xs) > ALPHA):
        se_range = math.nan
    method = test.method
    if test.dof:
        method = method.replace("variance", f"variance (df={test.dof})", 1)
    rel = replace(
        rel,
        rho=Interval(rho, math.nan, math.nan, rel.n),
        p=float(test.p[0]),
        method=method,
        extreme=bend_text,
    )
    tests = 2 if math.isfinite(float(test.p_bend[0])) else 1
    return _Raw(rel, test, bend_text, se_range, sd_dof, tests)


def _categorical(data: pd.DataFrame, groups: list[np.ndarray], rel: Relation) -> _Raw:
    best = max(rel.values, key=lambda v: v.stat.value)
    dof = sum(g.size - 1 for g in groups)
    if dof < 1 or np.ptp(data["metric"].to_numpy(float)) == 0:
        return _Raw(replace(rel, method="no repeats to test", extreme=str(best.value)), None, "")
    ss = sum(float(((g - g.mean()) ** 2).sum()) for g in groups)
    sd = math.sqrt(ss / dof)
    p = float(stats.f_oneway(*groups).pvalue) if sd > 0 else 1.0
    big = sorted(g.size for g in groups)[-2:]
    rel = replace(
        rel,
        p=p if math.isfinite(p) else 1.0,
        method=f"one-way F-test, df=({len(groups) - 1}, {dof})",
        extreme=str(best.value),
    )
    return _Raw(rel, None, "", sd * math.sqrt(1 / big[0] + 1 / big[1]), dof)


def _raw(rows: pd.DataFrame, factor: str, numeric: bool) -> _Raw:
    data = rows[[factor, "metric"]].dropna()
    n = len(data)
    keys = sorted(data[factor].unique(), key=lambda v: (str(type(v)), v))
    # One pass over the trials (a boolean mask per value would be O(n^2) for a
    # continuous factor, where every trial has its own value).
    position = {k: i for i, k in enumerate(keys)}
    codes = np.fromiter((position[v] for v in data[factor]), dtype=np.int64, count=n)
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes, minlength=len(keys)))[:-1]
    groups = np.split(data["metric"].to_numpy(float)[order], bounds)
    values = tuple(ValueStat(k, mean_ci(g)) for k, g in zip(keys, groups, strict=True))
    rel = Relation(factor, n, None, "", "", values)
    if n < 3 or len(keys) < 2:
        few = replace(rel, verdict="too few trials", evidence=f"n={n}, {len(keys)} value(s)")
        return _Raw(few, None, "")
    if not numeric:
        return _categorical(data, groups, rel)
    return _numeric(data, factor, keys, rel)


def _verdict(raw: _Raw, p_holm: float) -> Relation:
    # Quote the detectable size at the level this factor was actually tested at:
    # Holm's multiplier for it and the tests combined within it.
    mult = p_holm / raw.rel.p if raw.rel.p > 0 and math.isfinite(p_holm) else 1.0
    level = ALPHA / (raw.tests * max(mult, 1.0))
    detectable = detectable_change(raw.se_unit, raw.dof, level) if raw.dof >= 1 else math.nan
    rel = replace(raw.rel, p_holm=p_holm, detectable=detectable)
    if rel.verdict == "too few trials":
        return rel
    tested = f"{rel.method}: p={rel.p:.3g}, Holm p={p_holm:.3g}"
    if raw.test is not None and math.isfinite(float(raw.test.p_bend[0])):
        tested = (
            f"trend p={float(raw.test.p_trend[0]):.3g} ({rel.method}), interior extreme "
            f"p={float(raw.test.p_bend[0]):.3g}; factor p={rel.p:.3g}, Holm p={p_holm:.3g}"
        )
    if rel.method == "no repeats to test":
        return replace(
            rel, verdict="none", evidence=f"no repeats to test; best {rel.extreme} (n={rel.n})"
        )
    if p_holm <= ALPHA:
        if rel.rho is None:
            return replace(rel, verdict="differs", evidence=f"{tested}; best {rel.extreme}")
        assert raw.test is not None
        verdict = str(shapes(raw.test, np.array([p_holm]), ALPHA)[0])
        if verdict == "non-monotonic":
            return replace(rel, verdict=verdict, evidence=f"{raw.bend_text}; {tested}")
        stat = raw.test.bend_stat
        if stat is not None and float(stat[0]) > SUGGESTED:
            # The ends differ, but an interior value beats (or falls below) both in the
            # point estimates: say so rather than a clean "direct".
            return replace(
                rel,
                verdict=f"{verdict}, interior {raw.bend_text.split(' ')[0]}",
                evidence=f"{tested}; ρ={rel.rho.value:.2f}; the ends differ, but the "
                f"{raw.bend_text} is not established as such",
            )
        return replace(rel, verdict=verdict, evidence=f"{tested}; ρ={rel.rho.value:.2f}")
    if math.isfinite(rel.detectable):
        unseen = (
            f"a change below ±{rel.detectable:.3g} across the range would likely go unseen "
            "at this noise"
        )
        if rel.rho is None:
            unseen = (
                f"a difference below ±{rel.detectable:.3g} between groups would likely go unseen"
            )
        return replace(rel, verdict="none", evidence=f"no effect detected ({tested}); {unseen}")
    return replace(
        rel,
        verdict="none",
        evidence=f"no effect detectable: {rel.n} trials on {len(rel.values)} values cannot reach "
        f"p ≤ {ALPHA} (repeat trials to estimate the noise)",
    )


def relation(rows: pd.DataFrame, factor: str, numeric: bool) -> Relation:
    """The relation of ``factor`` to ``rows['metric']`` tested on its own (a family of one)."""
    raw = _raw(rows, factor, numeric)
    return _verdict(raw, raw.rel.p)


def relations(sf: StudyFrame) -> list[Relation]:
    """One :class:`Relation` per factor the design varied, Holm-adjusted across factors."""
    raws = [_raw(sf.rows_for(f), f, sf.is_numeric(f)) for f in sf.factors]
    tested = [i for i, r in enumerate(raws) if math.isfinite(r.rel.p)]
    adjusted = holm([raws[i].rel.p for i in tested])
    p_holm = {i: adjusted[k] for k, i in enumerate(tested)}
    return [_verdict(r, p_holm.get(i, math.nan)) for i, r in enumerate(raws)]


def _logscale(keys: list[float | str]) -> bool:
    nums = [float(k) for k in keys]
    return min(nums) > 0 and max(nums) / min(nums) >= 16
