"""Comparing search strategies over repeated seeds: best-so-far curves and pairwise tests."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from scipy import stats

from sweeplab.spec import StudySpec
from sweeplab.store import Study, TrialRecord

__all__ = [
    "CompareResult",
    "Pairwise",
    "RunResult",
    "StrategySummary",
    "pairwise_tests",
    "run_result",
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


@dataclass(frozen=True)
class Pairwise:
    """Two-sided Mann–Whitney U on the final best validation, Holm-adjusted."""

    a: str
    b: str
    p: float
    p_holm: float
    verdict: str


def pairwise_tests(
    results: list[RunResult], strategies: list[str], maximize: bool
) -> list[Pairwise]:
    """Every pair of strategies; the verdict names the better one only when p_holm < 0.05."""
    raw = []
    for a, b in itertools.combinations(strategies, 2):
        xa = [r.best_val for r in results if r.strategy == a and math.isfinite(r.best_val)]
        xb = [r.best_val for r in results if r.strategy == b and math.isfinite(r.best_val)]
        if len(xa) < 2 or len(xb) < 2 or (len(set(xa + xb)) == 1):
            p = 1.0
        else:
            p = float(stats.mannwhitneyu(xa, xb, alternative="two-sided").pvalue)
        diff = (np.median(xa) - np.median(xb)) if xa and xb else 0.0
        raw.append((a, b, p, float(diff)))
    order = sorted(range(len(raw)), key=lambda i: raw[i][2])
    adjusted = [1.0] * len(raw)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(raw) - rank) * raw[i][2]))
        adjusted[i] = running
    out = []
    for (a, b, p, diff), ph in zip(raw, adjusted, strict=True):
        if ph < 0.05 and diff != 0:
            better, worse = (a, b) if (diff > 0) == maximize else (b, a)
            verdict = f"{better} better than {worse}"
        else:
            verdict = "no difference detected"
        out.append(Pairwise(a, b, p, ph, verdict))
    return out


@dataclass(frozen=True)
class CompareResult:
    """The studies of a comparison, ``studies[strategy][repeat]``, and where they live."""

    root: Path
    base: StudySpec
    strategies: tuple[str, ...]
    studies: dict[str, list[Study]]
