"""Seeded simulations: each relation verdict's false-positive rate on pure noise, and its power.

The report's verdicts come from ``factor_test`` and ``shapes``; these tests run
the very same vectorized code on thousands of simulated data sets per design.

Tolerance: each design runs ``M = 2000`` pure-noise data sets, so a verdict
whose true rate is exactly 5% exceeds ``LIMIT = 0.05 + 3 * sqrt(0.05 * 0.95 / M)
≈ 0.065`` with probability ~0.1% per design (the draws are seeded, so the test is
deterministic). The rate pooled over every design (>100k data sets, SE ≈ 0.07
points) must be at most 5% itself, which catches a small miscalibration shared
by all designs that the per-design limit would let through.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sweeplab.analysis import relation, spearman_test
from sweeplab.analysis._trend import factor_test, holm, shapes

M = 2000
ALPHA = 0.05
LIMIT = ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / M)


def _no_repeats() -> list[np.ndarray]:
    return [np.arange(n, dtype=float) for n in range(3, 51)]


def _with_repeats() -> list[np.ndarray]:
    designs = [np.repeat(np.arange(L, dtype=float), r) for r in (2, 3) for L in range(2, 51 // r)]
    # one factor at a time: the baseline run 3 or 5 times plus single runs of k other levels
    designs += [np.array([0.0] * b + list(range(1, k + 1))) for b in (3, 5) for k in (1, 2, 4, 8)]
    return designs


def _verdicts(x: np.ndarray, Y: np.ndarray) -> np.ndarray:
    test = factor_test(x, Y)
    return shapes(test, test.p, ALPHA)


@pytest.mark.parametrize("kind", ["no repeats", "with repeats"])
def test_every_verdict_keeps_its_false_positive_rate_on_pure_noise(kind: str) -> None:
    rng = np.random.default_rng(18 if kind == "no repeats" else 19)
    designs = _no_repeats() if kind == "no repeats" else _with_repeats()
    totals = {"direct": 0, "inverse": 0, "non-monotonic": 0, "any": 0}
    worst = {}
    for x in designs:
        got = _verdicts(x, rng.normal(size=(M, x.size)))
        rates = {v: float(np.mean(got == v)) for v in ("direct", "inverse", "non-monotonic")}
        rates["any"] = float(np.mean(got != "none"))
        for v, r in rates.items():
            totals[v] += round(r * M)
            assert r <= LIMIT, f"{v} at n={x.size} ({kind}): {r:.3f}"
        worst[x.size] = rates["any"]
    pooled = totals["any"] / (M * len(designs))
    assert pooled <= ALPHA, pooled
    assert max(worst.values()) <= LIMIT


def test_small_n_without_repeats_is_never_called() -> None:
    """n = 3 and 4 distinct values: no permutation p reaches 5%, so no verdict at all."""
    rng = np.random.default_rng(3)
    for n in (3, 4):
        x = np.arange(n, dtype=float)
        strong = x[None, :] * 10 + rng.normal(size=(200, n))
        assert set(_verdicts(x, strong)) == {"none"}


def test_holm_keeps_the_study_wide_rate_with_several_noise_factors() -> None:
    rng = np.random.default_rng(5)
    x = np.repeat([1.0, 2.0, 4.0, 8.0, 16.0], 6)
    tests = [factor_test(np.log(rng.permutation(x)), rng.normal(size=(M, x.size))) for _ in "abcd"]
    p = np.stack([t.p for t in tests], axis=1)
    p_holm = np.array([holm(list(row)) for row in p])
    called = np.stack(
        [shapes(t, p_holm[:, k], ALPHA) != "none" for k, t in enumerate(tests)], axis=1
    )
    assert np.mean(p <= ALPHA) > ALPHA / 4  # each factor alone is called now and then ...
    # ... but the study as a whole: four factors at 5% each would give ~19%, Holm keeps <= 5%
    assert np.mean(called.any(axis=1)) <= LIMIT


def _power(x: np.ndarray, mean: np.ndarray, want: str, seed: int) -> float:
    rng = np.random.default_rng(seed)
    Y = mean[None, :] + rng.normal(size=(M, x.size))
    return float(np.mean(_verdicts(x, Y) == want))


def test_power_on_planted_trends_and_peaks() -> None:
    """Measured powers (M = 2000, seeded) with margin; effects in noise SD units."""
    # a trend of 3 SD across the range, 20 single trials: rank permutation test (0.92)
    x = np.arange(20, dtype=float)
    assert _power(x, 3 * x / 19, "direct", 1) >= 0.88
    assert _power(x, -3 * x / 19, "inverse", 2) >= 0.88
    # 5 levels x 3 repeats, a trend of 3 SD across the range: slope t-test (0.90)
    x = np.repeat(np.arange(5, dtype=float), 3)
    assert _power(x, 3 * x / 4, "direct", 3) >= 0.86
    # an interior peak 4 SD above both ends, 5 levels x 3 repeats (0.87)
    shape = np.array([0.0, 2.5, 4.0, 2.5, 0.0])
    assert _power(x, shape[x.astype(int)], "non-monotonic", 4) >= 0.83
    # a peak on a rising trend, 3.5 SD above the higher end, is a peak, not "direct" (0.81)
    shape = np.array([0.0, 2.0, 5.5, 4.0, 2.0])
    assert _power(x, shape[x.astype(int)], "non-monotonic", 5) >= 0.77
    # one factor at a time: baseline x3 (df 2) and two single levels 10 SD better (0.91)
    x = np.array([0.0, 0.0, 0.0, 1.0, 2.0])
    assert _power(x, np.array([0.0, 0.0, 0.0, 10.0, 10.0]), "direct", 6) >= 0.87
    # baseline x5 (df 4): 6 SD is enough (0.97)
    x = np.array([0.0] * 5 + [1.0, 2.0])
    assert _power(x, np.array([0.0] * 5 + [6.0, 6.0]), "direct", 7) >= 0.93


def test_a_monotone_plateau_is_not_called_a_peak() -> None:
    x = np.repeat(np.arange(5, dtype=float), 3)
    plateau = np.array([0.0, 2.0, 3.0, 3.0, 3.0])[x.astype(int)]
    rng = np.random.default_rng(7)
    got = _verdicts(x, plateau[None, :] + rng.normal(size=(M, x.size)))
    assert np.mean(got == "non-monotonic") <= LIMIT
    assert np.mean(got == "direct") >= 0.8


def test_categorical_differs_is_calibrated_and_finds_real_differences() -> None:
    rng = np.random.default_rng(8)
    keys = ["adam", "sgd", "rmsprop"]
    false, found = 0, 0
    trials = 200
    for _ in range(trials):
        x = np.repeat(keys, 3)
        noise = pd.DataFrame({"opt": x, "metric": rng.normal(size=9)})
        false += relation(noise, "opt", numeric=False).verdict == "differs"
        shift = np.where(x == "sgd", -3.0, 0.0)
        planted = pd.DataFrame({"opt": x, "metric": shift + rng.normal(size=9)})
        found += relation(planted, "opt", numeric=False).verdict == "differs"
    assert false / trials <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / trials)
    assert found / trials >= 0.8


def test_the_report_function_agrees_with_the_vectorized_verdicts() -> None:
    rng = np.random.default_rng(9)
    for n, r in ((5, 1), (8, 1), (4, 3), (12, 1)):
        x = np.repeat(np.arange(1, n + 1, dtype=float), r)
        Y = 0.3 * x[None, :] + rng.normal(size=(40, x.size))
        fast = _verdicts(x, Y)
        for y, want in zip(Y, fast, strict=True):
            got = relation(pd.DataFrame({"x": x, "metric": y}), "x", numeric=True)
            assert got.verdict.split(",")[0] == want
            if want == "none":
                assert got.evidence.startswith("no effect")


def test_none_says_what_it_could_have_seen() -> None:
    x = np.repeat([1.0, 2.0, 3.0, 4.0], 3)
    y = np.random.default_rng(11).normal(0.9, 0.002, size=x.size)
    rel = relation(pd.DataFrame({"x": x, "metric": y}), "x", numeric=True)
    assert rel.verdict == "none"
    assert 0.001 < rel.detectable < 0.02
    assert f"below ±{rel.detectable:.3g}" in rel.evidence
    tiny = relation(pd.DataFrame({"x": [1.0, 2.0, 3.0], "metric": [0.1, 0.2, 0.3]}), "x", True)
    assert tiny.verdict == "none"
    assert "no effect detectable" in tiny.evidence


def test_spearman_test_is_exact_at_small_n() -> None:
    rho, p = spearman_test(np.arange(5.0), np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    assert rho == pytest.approx(1.0)
    assert p == pytest.approx(2 / 120)  # two of the 5! orders are as extreme


@pytest.mark.parametrize("n", [101, 400])
def test_large_n_uses_the_t_approximation_and_stays_calibrated(n: int) -> None:
    """Above ASYMPTOTIC_N trials the trend p is the t approximation (no n x N_PERM null)."""
    rng = np.random.default_rng(n)
    got = _verdicts(np.arange(n, dtype=float), rng.normal(size=(M, n)))
    assert float(np.mean(got != "none")) <= LIMIT
    x = rng.uniform(size=n)
    y = 0.2 * x + rng.normal(size=n)
    rho, p = spearman_test(x, y)
    want = stats.spearmanr(x, y)
    assert rho == pytest.approx(want.statistic)
    assert p == pytest.approx(want.pvalue, rel=1e-9)


def test_a_study_of_many_trials_needs_no_permutation_matrix() -> None:
    """40,000 trials (beyond int16 ranks): the test runs in O(n) memory and gives a sane p."""
    rng = np.random.default_rng(7)
    x = rng.uniform(size=40_000)
    rho, p = spearman_test(x, x + rng.normal(scale=10.0, size=x.size))
    assert 0 < rho < 0.1
    assert p < 0.05
