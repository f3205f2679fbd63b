"""Relations, intervals, interactions and strategy tests on synthetic data with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sweeplab.analysis import (
    MIN_TRIALS,
    RunResult,
    StudyFrame,
    importances,
    interactions,
    mean_ci,
    min_repeats,
    pairwise_tests,
    relation,
    repeats_needed,
    sign_flip_p,
    spearman_ci,
)


def _rows(xs: list[float], ys: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"x": xs, "metric": ys})


def test_mean_ci_matches_t_interval() -> None:
    ci = mean_ci([1.0, 2.0, 3.0])
    assert ci.value == pytest.approx(2.0)
    assert ci.high - ci.value == pytest.approx(4.302653 * 1.0 / math.sqrt(3), rel=1e-5)
    single = mean_ci([0.5])
    assert single.n == 1
    assert math.isnan(single.low)


def test_spearman_ci_is_seeded_and_brackets_rho() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    y = x + rng.normal(scale=0.5, size=40)
    a, b = spearman_ci(x, y), spearman_ci(x, y)
    assert a == b
    assert a.low < a.value < a.high
    assert a.excludes_zero()


@pytest.mark.parametrize(
    ("ys", "verdict"),
    [
        ([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], "direct"),
        ([0.6, 0.5, 0.4, 0.3, 0.2, 0.1], "inverse"),
    ],
)
def test_monotonic_verdicts(ys: list[float], verdict: str) -> None:
    xs = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    rel = relation(_rows(xs * 2, ys * 2), "x", numeric=True)
    assert rel.verdict == verdict
    assert rel.n == 12
    assert rel.rho is not None
    assert rel.p_holm <= 0.05


def test_peak_is_non_monotonic_and_noise_is_none() -> None:
    xs = [1.0, 2.0, 3.0, 4.0, 5.0] * 3
    base = {1.0: 0.5, 2.0: 0.7, 3.0: 0.9, 4.0: 0.7, 5.0: 0.5}
    noise = [0.0, 0.01, -0.01]
    ys = [base[x] + noise[i // 5] for i, x in enumerate(xs)]
    peak = relation(_rows(xs, ys), "x", numeric=True)
    assert peak.verdict == "non-monotonic"
    assert "x=3" in peak.evidence
    rng = np.random.default_rng(1)
    flat = relation(_rows(xs, list(rng.normal(0.5, 0.05, size=15))), "x", numeric=True)
    assert flat.verdict == "none"


def test_too_few_and_categorical() -> None:
    assert relation(_rows([1.0, 2.0], [0.1, 0.2]), "x", numeric=True).verdict == "too few trials"
    rows = pd.DataFrame(
        {
            "x": ["a"] * 5 + ["b"] * 5,
            "metric": [0.9, 0.91, 0.92, 0.9, 0.91, 0.5, 0.52, 0.51, 0.5, 0.49],
        }
    )
    rel = relation(rows, "x", numeric=False)
    assert rel.verdict == "differs"
    assert "best a" in rel.evidence


def _frame(metric: list[float], a: list[float], b: list[float]) -> StudyFrame:
    frame = pd.DataFrame({"a": a, "b": b, "metric": metric, "label": "random"})
    return StudyFrame(frame, ("a", "b"), "val_accuracy", True, "random")


def test_interaction_share_separates_additive_from_crossed() -> None:
    a = [1.0, 1.0, 2.0, 2.0] * 2
    b = [1.0, 2.0, 1.0, 2.0] * 2
    additive = [x + 2 * y for x, y in zip(a, b, strict=True)]
    crossed = [x * y if x != y else 0.0 for x, y in zip(a, b, strict=True)]
    add = interactions(_frame(additive, a, b))
    cross = interactions(_frame(crossed, a, b))
    assert add[0].share == pytest.approx(0.0, abs=1e-12)
    assert cross[0].share > 0.5
    assert add[0].filled == 4
    ofat = StudyFrame(
        pd.DataFrame({"a": a, "b": b, "metric": additive}), ("a", "b"), "m", True, "ofat"
    )
    assert interactions(ofat) == []


def _run(strategy: str, repeat: int, best: float) -> RunResult:
    return RunResult(strategy, repeat, (best,), (1.0,), best, best, best, 1, 1)


def test_pairwise_is_paired_and_names_the_better_strategy_only_when_significant() -> None:
    rng = np.random.default_rng(4)
    shared = rng.normal(0.7, 0.05, size=8)  # repeat k's seed and split move every strategy
    results = [_run("good", k, shared[k] + 0.01) for k in range(8)]
    results += [_run("bad", k, shared[k]) for k in range(8)]
    results += [_run("same", k, shared[k] + rng.normal(0, 0.01)) for k in range(8)]
    tests = {(t.a, t.b): t for t in pairwise_tests(results, ["good", "bad", "same"], True)}
    # +0.01 on every repeat: invisible to an unpaired test under 0.05 of shared spread
    assert tests[("good", "bad")].verdict == "good better than bad"
    assert tests[("good", "bad")].diff == pytest.approx(0.01)
    assert tests[("good", "bad")].p == pytest.approx(2 / 2**8)
    assert tests[("good", "bad")].p_holm >= tests[("good", "bad")].p
    assert tests[("bad", "same")].verdict == "no difference detected"
    assert tests[("good", "bad")].reachable


def test_unreachable_differences_are_said_so() -> None:
    results = [_run(s, k, (0.9 if s == "a" else 0.5) + k * 1e-3) for s in "abc" for k in range(3)]
    tests = pairwise_tests(results, ["a", "b", "c"], True)
    assert not any(t.reachable for t in tests)
    assert tests[0].verdict.startswith("unreachable: 3 paired repeats give p >= 0.25")
    assert "(7 repeats)" in tests[0].verdict
    assert min_repeats(3) == 7
    assert min_repeats(21) == 10


def test_sign_flip_is_calibrated_and_repeats_needed_gives_its_power() -> None:
    rng = np.random.default_rng(6)
    for k in (6, 8, 11):
        noise = rng.normal(size=(1000, k))
        rate = np.mean([sign_flip_p(d) <= 0.05 for d in noise])
        assert rate <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 1000), (k, rate)
    k = repeats_needed(1.0, 3)
    shifted = rng.normal(1.0, 1.0, size=(1000, k))
    power = np.mean([3 * sign_flip_p(d) <= 0.05 for d in shifted])
    assert power >= 0.75  # planned for 80% with the t approximation


def test_importance_keeps_conditional_parameters_and_needs_enough_trials() -> None:
    rng = np.random.default_rng(11)
    n = 24
    depth = rng.choice([1.0, 2.0], size=n)
    units2 = np.where(depth == 2, rng.choice([16.0, 64.0], size=n), np.nan)
    lr = rng.choice([1e-3, 1e-2], size=n)
    metric = 0.8 + 0.1 * (lr == 1e-2) + 0.05 * (units2 == 64.0) + rng.normal(0, 0.005, n)
    frame = pd.DataFrame(
        {"depth": depth, "units2": units2, "lr": lr, "metric": metric, "label": "random"}
    )
    sf = StudyFrame(frame, ("depth", "lr", "units2"), "m", True, "random")
    imps = {i.factor: i for i in importances(sf)}
    assert set(imps) == {"depth", "lr", "units2"}  # units2 is not dropped
    assert imps["units2"].inactive == int(np.isnan(units2).sum()) > 0
    assert imps["lr"].value > imps["depth"].value
    assert imps["lr"].resamples >= 50
    assert imps["lr"].low <= imps["lr"].value <= imps["lr"].high
    few = StudyFrame(frame.head(MIN_TRIALS - 1), ("depth", "lr", "units2"), "m", True, "random")
    assert importances(few) == []


def test_importance_fits_are_bounded_on_big_studies(monkeypatch: pytest.MonkeyPatch) -> None:
    """The point estimate fits at most MAX_ROWS trials, each resample RESAMPLE_ROWS."""
    from sweeplab.analysis import _importance

    sizes: list[int] = []
    real = _importance._fanova

    def spy(rows: list[dict[str, object]], *args: object) -> dict[str, float]:
        sizes.append(len(rows))
        return real(rows, *args)

    monkeypatch.setattr(_importance, "_fanova", spy)
    monkeypatch.setattr(_importance, "N_RESAMPLES", 3)
    monkeypatch.setattr(_importance, "MIN_RESAMPLES", 3)
    rng = np.random.default_rng(3)
    n = _importance.MAX_ROWS + 100
    lr = rng.uniform(size=n)
    units = rng.choice([4.0, 8.0], size=n)
    frame = pd.DataFrame(
        {"lr": lr, "units": units, "metric": lr + rng.normal(0, 0.1, n), "label": "random"}
    )
    imps = importances(StudyFrame(frame, ("lr", "units"), "m", True, "random"))
    assert sizes[0] == _importance.MAX_ROWS
    assert len(sizes) > 1
    assert all(s == _importance.RESAMPLE_ROWS for s in sizes[1:])
    assert (imps[0].rows, imps[0].of, imps[0].resample_rows) == (
        _importance.MAX_ROWS,
        n,
        _importance.RESAMPLE_ROWS,
    )
