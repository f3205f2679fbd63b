"""Calibrated tests of a factor's effect, vectorized over many data sets sharing one design.

Every function takes the design (the factor's values ``x``, one per trial) and
a matrix ``Y`` of shape ``(m, n)``: ``m`` data sets observed on that design.
The report calls them with ``m = 1``; the simulation tests call the very same
code with thousands of pure-noise or planted-effect data sets, which is how
the false-positive rates and powers the report relies on are measured.

- :func:`trend_test`: is there a monotone trend? With true repeats (pure-error
  degrees of freedom >= 2) a least-squares slope t-test whose variance comes
  from the repeats only, so it holds under any shape of the mean; otherwise
  Spearman's rho with an exact permutation p (all n! orders up to n = 8, else
  ``N_PERM`` seeded permutations), which is exact under "no relation" whatever
  the noise distribution; above ``ASYMPTOTIC_N`` trials, its t approximation.
- :func:`bend_test`: does an interior level beat (or fall below) *both* ends?
  An intersection-union t-test per interior level and direction, Bonferroni
  over the ``2 (L - 2)`` candidates, with the pure-error variance of the
  levels. Its false-positive rate is at most alpha whenever no interior level
  truly exceeds both ends, including every monotone relation.
- :func:`levels_of`: the levels the bend test compares: the distinct values
  when there are at most ``MAX_LEVELS``, else quantile bins of ``x`` (bins
  depend on ``x`` only, so the within-bin variance is a valid, conservative
  noise estimate).
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "Design",
    "FactorTest",
    "bend_test",
    "detectable_change",
    "distinct",
    "factor_test",
    "holm",
    "levels_of",
    "min_attainable_p",
    "pure_error",
    "shapes",
    "spearman_test",
    "trend_test",
]

PERM_SEED = 20240607
N_PERM = 10000
EXACT_MAX_N = 8
ASYMPTOTIC_N = 100
"""Above this many trials Spearman's p comes from the t approximation (rho of ranks as a
Pearson correlation, df n - 2), as scipy's ``spearmanr`` computes it: a permutation null
would hold ``N_PERM`` x n values (800 MB at 10,000 trials). At these n the approximation's
error in p is far below the Monte Carlo error of ``N_PERM`` permutations."""
MAX_LEVELS = 8
POWER_Z = 0.8  # the power at which the smallest detectable effect is quoted


@dataclass(frozen=True)
class Design:
    """The levels of one factor: ``index[i]`` is trial i's level, ``centers`` the level values."""

    index: np.ndarray
    centers: np.ndarray
    counts: np.ndarray
    binned: bool

    @property
    def n_levels(self) -> int:
        return int(self.centers.size)


def levels_of(x: np.ndarray) -> Design:
    """Distinct values as levels; quantile bins when there are more than ``MAX_LEVELS``
    values, or at least 6 values without a single repeat (bins then give the noise)."""
    values, index = np.unique(x, return_inverse=True)
    counts = np.bincount(index)
    if values.size <= MAX_LEVELS and (counts.max() > 1 or values.size < 6):
        return Design(index, values, counts, False)
    n_bins = max(3, min(6, x.size // 4))
    ranks = stats.rankdata(x, method="min") - 1
    index = np.minimum((ranks * n_bins) // x.size, n_bins - 1).astype(int)
    used = np.unique(index)
    index = np.searchsorted(used, index)
    centers = np.array([x[index == k].mean() for k in range(used.size)])
    return Design(index, centers, np.bincount(index), True)


def _level_means(design: Design, Y: np.ndarray) -> np.ndarray:
    onehot = np.zeros((design.index.size, design.n_levels))
    onehot[np.arange(design.index.size), design.index] = 1.0
    means: np.ndarray = (Y @ onehot) / design.counts
    return means


def pure_error(design: Design, Y: np.ndarray) -> tuple[np.ndarray, int]:
    """The within-level SD of each data set and its degrees of freedom (n - L)."""
    dof = int(design.index.size - design.n_levels)
    if dof <= 0:
        return np.full(Y.shape[0], math.nan), 0
    resid = Y - _level_means(design, Y)[:, design.index]
    return np.sqrt((resid**2).sum(axis=1) / dof), dof


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control, any dependence)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    out = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out


@functools.lru_cache(maxsize=128)
def _spearman_null(rx: tuple[float, ...], ry: tuple[float, ...]) -> tuple[np.ndarray, bool]:
    """|rho| over every permutation (n <= 8) or ``N_PERM`` seeded ones, sorted; and exactness."""
    x = np.asarray(rx) - np.mean(rx)
    y = np.asarray(ry) - np.mean(ry)
    n = x.size
    exact = n <= EXACT_MAX_N
    if exact:
        perms = np.array(list(itertools.permutations(range(n))), dtype=np.int16)
    else:
        rng = np.random.default_rng(PERM_SEED + n)
        perms = rng.permuted(np.tile(np.arange(n, dtype=np.int16), (N_PERM, 1)), axis=1)
    den = math.sqrt(float((x**2).sum() * (y**2).sum()))
    null = np.abs(y[perms] @ x) / den
    return np.sort(null), exact


def _spearman_p(x: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spearman's rho of each row against ``x`` and its two-sided permutation p-value."""
    rx = stats.rankdata(x)
    RY = stats.rankdata(Y, axis=1)
    cx = rx - rx.mean()
    cy = RY - RY.mean(axis=1, keepdims=True)
    den = np.sqrt((cx**2).sum() * (cy**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (cy @ cx) / den
    p = np.ones(Y.shape[0])
    if x.size > ASYMPTOTIC_N:
        return np.nan_to_num(rho), _spearman_t_p(rho, x.size)
    keys = [tuple(np.sort(r)) for r in RY]
    for key in set(keys):
        rows = np.array([k == key for k in keys])
        if np.ptp(key) == 0 or np.ptp(rx) == 0:
            continue
        null, exact = _spearman_null(tuple(np.sort(rx)), key)
        at_least = null.size - np.searchsorted(null, np.abs(rho[rows]) - 1e-12, side="left")
        p[rows] = at_least / null.size if exact else (1 + at_least) / (1 + null.size)
    return np.nan_to_num(rho), p


def _spearman_t_p(rho: np.ndarray, n: int) -> np.ndarray:
    """Two-sided p of Spearman's rho by the t approximation (``nan`` rho, e.g. a constant
    metric, gets p = 1)."""
    r = np.clip(np.nan_to_num(rho), -1.0, 1.0)
    with np.errstate(divide="ignore"):
        t = np.abs(r) * np.sqrt((n - 2) / np.maximum(1.0 - r**2, 0.0))
    p = 2 * stats.t.sf(t, n - 2)
    return np.where(np.isnan(rho), 1.0, p)


def distinct(x: np.ndarray) -> Design:
    """The distinct values of ``x`` as levels (never binned): the true repeats."""
    values, index = np.unique(x, return_inverse=True)
    return Design(index, values, np.bincount(index), False)


def trend_test(x: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, str, int]:
    """Per data set: a signed trend estimate and its two-sided p; the method and its df.

    The estimate is the least-squares slope per unit of ``x`` (slope t-test,
    when the repeats give >= 2 degrees of freedom) or Spearman's rho
    (permutation test, df 0); only its sign is used for a verdict. A data set
    whose repeats are all identical (SD 0) falls back to the permutation test.
    """
    sd, dof = pure_error(distinct(x), Y)
    rho, p_rank = _spearman_p(x, Y)
    if dof < 2:
        return rho, p_rank, "Spearman permutation test", 0
    cx = x - x.mean()
    sxx = float((cx**2).sum())
    slope = (Y @ cx) / sxx
    ok = sd > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(ok, slope / (sd / math.sqrt(sxx)), 0.0)
    p = np.where(ok, 2 * stats.t.sf(np.abs(t), dof), p_rank)
    return np.where(ok, slope, rho), p, "slope t-test on the repeats' variance", dof


def spearman_test(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Spearman's rho of one data set and its exact (n <= 8), seeded permutation (n <= 100)
    or t-approximation p."""
    rho, p = _spearman_p(np.asarray(x, dtype=float), np.asarray(y, dtype=float)[None, :])
    return float(rho[0]), float(p[0])


def min_attainable_p(x: np.ndarray) -> float:
    """The smallest p the permutation test can reach on this design (ties in ``x`` raise it)."""
    if x.size > ASYMPTOTIC_N:
        return float(_spearman_t_p(np.array([1.0 if np.ptp(x) > 0 else np.nan]), x.size)[0])
    rx = stats.rankdata(x)
    null, exact = _spearman_null(tuple(np.sort(rx)), tuple(float(i) for i in range(1, x.size + 1)))
    top = int((null >= null[-1] - 1e-12).sum())
    return top / null.size if exact else (1 + top) / (1 + null.size)


def bend_test(
    design: Design, Y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, np.ndarray] | None:
    """An interior extreme beyond noise, per data set: (p, level index, +1 peak / -1 trough,
    df, the smaller t of the interior level against the two ends).

    ``None`` when the design cannot test it (fewer than 3 levels or fewer than
    2 pure-error degrees of freedom).
    """
    L = design.n_levels
    sd, dof = pure_error(design, Y)
    if L < 3 or dof < 2:
        return None
    means = _level_means(design, Y)
    n = design.counts.astype(float)
    inner = np.arange(1, L - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        to_first = (means[:, inner] - means[:, [0]]) / (
            sd[:, None] * np.sqrt(1 / n[inner] + 1 / n[0])
        )
        to_last = (means[:, inner] - means[:, [L - 1]]) / (
            sd[:, None] * np.sqrt(1 / n[inner] + 1 / n[L - 1])
        )
    to_first[sd <= 0] = np.nan
    to_last[sd <= 0] = np.nan
    peak = np.minimum(to_first, to_last)
    trough = np.minimum(-to_first, -to_last)
    both = np.nan_to_num(np.concatenate([peak, trough], axis=1), nan=-np.inf)
    best = np.argmax(both, axis=1)
    stat = both[np.arange(len(Y)), best]
    p = np.minimum(1.0, 2 * (L - 2) * stats.t.sf(stat, dof))
    sign = np.where(best < L - 2, 1, -1)
    return p, inner[best % (L - 2)], sign, dof, stat


@dataclass(frozen=True)
class FactorTest:
    """Both tests of a numeric factor for each data set; ``p`` = 2 x the smaller (Bonferroni)."""

    p: np.ndarray
    p_trend: np.ndarray
    trend_sign: np.ndarray
    p_bend: np.ndarray
    bend_at: np.ndarray
    bend_sign: np.ndarray
    method: str
    dof: int
    bend_stat: np.ndarray | None = None
    """The interior extreme's smaller t against the two ends (> 0: it beats both)."""


def factor_test(x: np.ndarray, Y: np.ndarray) -> FactorTest:
    """The trend and interior-extreme tests of one numeric factor, combined into one p."""
    est, p_trend, method, dof = trend_test(x, Y)
    bend = bend_test(levels_of(x), Y)
    if bend is None:
        nan = np.full(len(Y), np.nan)
        zeros = np.zeros(len(Y), dtype=int)
        return FactorTest(p_trend, p_trend, np.sign(est), nan, zeros, zeros, method, dof)
    p_bend, at, sign, _, stat = bend
    p = np.minimum(1.0, 2 * np.minimum(p_trend, p_bend))
    return FactorTest(p, p_trend, np.sign(est), p_bend, at, sign, method, dof, stat)


def shapes(test: FactorTest, p_holm: np.ndarray, alpha: float) -> np.ndarray:
    """The verdict per data set: direct, inverse, non-monotonic or none.

    A factor is called only when its Holm-adjusted p is <= alpha; it is
    non-monotonic when the interior-extreme test, scaled by the same
    adjustment, is <= alpha on its own, else direct/inverse by the trend's sign.
    """
    smallest = np.fmin(test.p_trend, test.p_bend)
    with np.errstate(invalid="ignore", divide="ignore"):
        bend_adj = np.where(smallest > 0, p_holm * test.p_bend / smallest, test.p_bend)
    out = np.where(test.trend_sign > 0, "direct", "inverse").astype(object)
    out[np.isfinite(bend_adj) & (bend_adj <= alpha)] = "non-monotonic"
    out[~(p_holm <= alpha)] = "none"
    return out


def detectable_change(se_unit: float, dof: int, alpha: float = 0.05) -> float:
    """The effect a two-sided level-alpha t-test finds with 80% power: (t_{1-a/2} + t_0.8) * SE."""
    if not math.isfinite(se_unit) or dof < 1:
        return math.nan
    return float((stats.t.ppf(1 - alpha / 2, dof) + stats.t.ppf(POWER_Z, dof)) * se_unit)
