"""Small statistics with their uncertainty: means with t intervals, seeded bootstraps."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

__all__ = ["Interval", "bootstrap_ci", "mean_ci", "spearman", "spearman_ci"]

BOOTSTRAP_SEED = 20240607
N_BOOTSTRAP = 1000


@dataclass(frozen=True)
class Interval:
    """A point estimate with a 95% interval (``nan`` bounds when not estimable)."""

    value: float
    low: float
    high: float
    n: int

    def excludes_zero(self) -> bool:
        return bool(self.low > 0.0 or self.high < 0.0)

    def text(self, fmt: str = ".3f") -> str:
        if math.isnan(self.value):
            return f"n/a (n={self.n})"
        if math.isnan(self.low):
            return f"{self.value:{fmt}} (n={self.n})"
        return f"{self.value:{fmt}} [{self.low:{fmt}}, {self.high:{fmt}}] (n={self.n})"


def mean_ci(values: ArrayLike) -> Interval:
    """Mean with a two-sided 95% Student-t interval; no interval for one value."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, math.nan, math.nan, 1)
    half = float(stats.t.ppf(0.975, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return Interval(mean, mean - half, mean + half, n)


def spearman(x: ArrayLike, y: ArrayLike) -> float:
    """Spearman's rank correlation; ``nan`` when either side is constant."""
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    return float(stats.spearmanr(a, b).statistic)


def bootstrap_ci(
    n: int,
    statistic: Callable[[np.ndarray], float],
    n_boot: int = N_BOOTSTRAP,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """Percentile 95% interval of ``statistic(indices)`` over row resamples.

    Resamples where the statistic is undefined (``nan``) are dropped; when
    fewer than half remain the interval is ``(nan, nan)``.
    """
    if n < 3:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    draws = [statistic(rng.integers(0, n, size=n)) for _ in range(n_boot)]
    finite = np.asarray([d for d in draws if math.isfinite(d)], dtype=float)
    if finite.size < n_boot // 2:
        return math.nan, math.nan
    return float(np.quantile(finite, 0.025)), float(np.quantile(finite, 0.975))


def spearman_ci(x: ArrayLike, y: ArrayLike) -> Interval:
    """Spearman's ρ with a seeded percentile-bootstrap 95% interval."""
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    rho = spearman(a, b)
    low, high = bootstrap_ci(a.size, lambda idx: spearman(a[idx], b[idx]))
    return Interval(rho, low, high, int(a.size))
