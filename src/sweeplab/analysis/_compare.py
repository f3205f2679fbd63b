"""Comparing search strategies over repeated seeds: best-so-far curves and paired tests.

Repeat k of every strategy uses the same seed and split, so strategies are
compared on paired differences (exact sign-flip test, Holm over pairs), and
the number of repeats a comparison needs is known before it runs.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from scipy import stats

from sweeplab.analysis._trend import holm
from sweeplab.spec import StudySpec
from sweeplab.store import Study, TrialRecord

__all__ = [
    "CompareResult",
    "Pairwise",
    "RunResult",
    "StrategySummary",
    "min_repeats",
    "pairwise_tests",
    "repeats_needed",
    "run_result",
    "sign_flip_p",
    "summarize",
]


@dataclass(frozen=True)
class RunResult:
    """One study of a comparison: its best-so-far trace and the best trial's scores.

    ``trace[i]`` is the best validation objective after the first ``i + 1``
    finished trials (by trial number; ``nan`` until one completes) and
    ``times[i]`` the wall seconds from the study's first start to that trial's end.
    """

    strategy: str
    repeat: int
    trace: tuple[float, ...]
    times: tuple[float, ...]
    best_val: float
    best_test_accuracy: float
    best_test_f1: float
    trials: int
    epochs: int


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp() if text else math.nan


def run_result(strategy: str, repeat: int, records: list[TrialRecord], maximize: bool) -> RunResult:
    """Summarize one study's records; the best trial is chosen on validation only."""
    done = sorted(records, key=lambda r: r.number)
    start = min((_ts(r.started_at) for r in done), default=math.nan)
    sign = 1.0 if maximize else -1.0
    best: TrialRecord | None = None
    trace, times = [], []
    for r in done:
        if (
            r.state == "complete"
            and r.objective is not None
            and (best is None or sign * r.objective > sign * float(best.objective or 0.0))
        ):
            best = r
        trace.append(math.nan if best is None else float(best.objective or math.nan))
        times.append(_ts(r.finished_at) - start)
    test = (best.test or {}) if best else {}
    return RunResult(
        strategy,
        repeat,
        tuple(trace),
        tuple(times),
        float(best.objective or math.nan) if best else math.nan,
        float(test.get("accuracy", math.nan)),
        float(test.get("f1_macro", math.nan)),
        len(done),
        sum(r.epochs_trained for r in done),
    )


@dataclass(frozen=True)
class StrategySummary:
    """Mean ± sample std over repeats of the final best validation and its test scores."""

    strategy: str
    repeats: int
    val: tuple[float, float]
    test_accuracy: tuple[float, float]
    test_f1: tuple[float, float]
    epochs: float


def _mean_std(x: list[float]) -> tuple[float, float]:
    a = np.asarray([v for v in x if math.isfinite(v)], dtype=float)
    if a.size == 0:
        return math.nan, math.nan
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


def summarize(results: list[RunResult], strategies: list[str]) -> list[StrategySummary]:
    out = []
    for s in strategies:
        rs = [r for r in results if r.strategy == s]
        out.append(
            StrategySummary(
                s,
                len(rs),
                _mean_std([r.best_val for r in rs]),
                _mean_std([r.best_test_accuracy for r in rs]),
                _mean_std([r.best_test_f1 for r in rs]),
                float(np.mean([r.epochs for r in rs])) if rs else math.nan,
            )
        )
    return out


ALPHA = 0.05
EXACT_MAX_PAIRS = 16
N_FLIPS = 20000
FLIP_SEED = 20240607


@dataclass(frozen=True)
class Pairwise:
    """Two strategies compared on repeats that share a seed and split (paired).

    ``diff`` is the mean over paired repeats of ``a - b`` (final best
    validation) with a 95% paired-t interval; ``p`` is the exact two-sided
    sign-flip permutation p of the mean difference (every sign pattern up to 16
    pairs, else 20,000 seeded ones), ``p_holm`` Holm-adjusted over all pairs.
    ``min_p`` is the smallest p these ``n`` pairs can give; ``reachable`` is
    false when even that p fails Holm's first step (``min_p x pairs > alpha``),
    so no difference could have been declared whatever the data.
    """

    a: str
    b: str
    n: int
    diff: float
    low: float
    high: float
    p: float
    p_holm: float
    min_p: float
    reachable: bool
    verdict: str


def sign_flip_p(d: np.ndarray) -> float:
    """Exact (or seeded Monte Carlo) two-sided sign-flip p of the mean of paired differences."""
    d = np.asarray(d, dtype=float)
    k = d.size
    if k == 0 or not np.any(d):
        return 1.0
    if k <= EXACT_MAX_PAIRS:
        signs = 1 - 2 * ((np.arange(2**k)[:, None] >> np.arange(k)) & 1)
        null = np.abs(signs @ d)
        return float(np.mean(null >= abs(d.sum()) - 1e-12))
    rng = np.random.default_rng(FLIP_SEED)
    signs = rng.choice([-1.0, 1.0], size=(N_FLIPS, k))
    hits = int(np.sum(np.abs(signs @ d) >= abs(d.sum()) - 1e-12))
    return (1 + hits) / (1 + N_FLIPS)


def min_p(pairs: int) -> float:
    """The smallest two-sided sign-flip p with ``pairs`` paired repeats: 2 / 2^pairs."""
    return min(1.0, 2.0 / 2.0**pairs) if pairs > 0 else 1.0


def min_repeats(n_pairs: int, alpha: float = ALPHA) -> int:
    """Repeats the exact paired test needs before any of ``n_pairs`` pairs can pass Holm."""
    k = 1
    while n_pairs * min_p(k) > alpha:
        k += 1
    return k


def repeats_needed(effect_sd: float, n_pairs: int, alpha: float = ALPHA, power: float = 0.8) -> int:
    """Repeats to find a paired difference of ``effect_sd`` SDs (of the per-repeat
    differences) with ``power``, at Holm's first step (alpha / pairs), two-sided;
    never fewer than :func:`min_repeats`."""
    level = alpha / max(n_pairs, 1)
    k = max(2, min_repeats(n_pairs, alpha))
    while k < 1000:
        dof = k - 1
        crit = stats.t.ppf(1 - level / 2, dof)
        nc = effect_sd * math.sqrt(k)
        if float(stats.nct.sf(crit, dof, nc)) >= power:
            return k
        k += 1
    return k


def pairwise_tests(
    results: list[RunResult], strategies: list[str], maximize: bool
) -> list[Pairwise]:
    """Every pair of strategies, paired by repeat; a winner only when ``p_holm <= 0.05``."""
    best = {(r.strategy, r.repeat): r.best_val for r in results if math.isfinite(r.best_val)}
    raw = []
    for a, b in itertools.combinations(strategies, 2):
        reps = sorted(k for s, k in best if s == a and (b, k) in best)
        d = np.array([best[(a, k)] - best[(b, k)] for k in reps])
        mean = float(d.mean()) if d.size else math.nan
        if d.size >= 2:
            half = float(stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size))
        else:
            half = math.nan
        raw.append((a, b, d.size, mean, mean - half, mean + half, sign_flip_p(d)))
    adjusted = holm([r[6] for r in raw])
    out = []
    m = len(raw)
    for (a, b, n, mean, low, high, p), ph in zip(raw, adjusted, strict=True):
        floor = min_p(n)
        reachable = m * floor <= ALPHA
        if ph <= ALPHA and mean != 0:
            better, worse = (a, b) if (mean > 0) == maximize else (b, a)
            verdict = f"{better} better than {worse}"
        elif not reachable:
            verdict = (
                f"unreachable: {n} paired repeats give p >= {floor:.3g}, Holm over {m} pairs "
                f"needs <= {ALPHA / m:.3g} ({min_repeats(m)} repeats)"
            )
        else:
            verdict = "no difference detected"
        out.append(Pairwise(a, b, n, mean, low, high, p, ph, floor, reachable, verdict))
    return out


@dataclass(frozen=True)
class CompareResult:
    """The studies of a comparison, ``studies[strategy][repeat]``, and where they live."""

    root: Path
    base: StudySpec
    strategies: tuple[str, ...]
    studies: dict[str, list[Study]]
