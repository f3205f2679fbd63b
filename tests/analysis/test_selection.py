"""Standard errors of trial scores, the set tied with the best, per-config means, confirm.json."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from sweeplab.analysis import (
    Score,
    binomial_se,
    config_key,
    config_scores,
    rank_with_noise,
    tied_with_best,
    trial_se,
)
from sweeplab.errors import StudyError
from sweeplab.store import TrialRecord, read_confirmation


def _rec(number: int, objective: float | None, **kw: Any) -> TrialRecord:
    return TrialRecord(
        number=number, state="complete", params={}, seed=0, objective=objective, **kw
    )


# --- standard errors ---------------------------------------------------------------------------


def test_binomial_se_uses_the_adjusted_proportion_and_never_reaches_zero() -> None:
    # 14 of 15: p~ = 16/19
    assert binomial_se(14 / 15, 15) == pytest.approx(math.sqrt(16 / 19 * 3 / 19 / 15))
    # 15 of 15: the plain formula gives 0; p~ = 17/19 keeps it positive
    assert binomial_se(1.0, 15) == pytest.approx(math.sqrt(17 / 19 * 2 / 19 / 15))
    assert binomial_se(1.0, 15) > 0.07
    assert binomial_se(0.0, 15) == pytest.approx(binomial_se(1.0, 15))
    # p = 0.5 is unchanged by the adjustment
    assert binomial_se(0.5, 100) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="n must be"):
        binomial_se(0.5, 0)


def test_trial_se_binomial_for_accuracy_with_the_fallback_n() -> None:
    r = _rec(0, 0.9)
    assert trial_se(r, 30, metric="val_accuracy") == pytest.approx(binomial_se(0.9, 30))
    # the record's own n_val wins over the study-wide fallback
    own = _rec(0, 0.9, n_val=120)
    assert trial_se(own, 30, metric="val_accuracy") == pytest.approx(binomial_se(0.9, 120))
    # F1 and friends: the same approximation
    assert trial_se(r, 30, metric="val_f1_macro") == pytest.approx(binomial_se(0.9, 30))
    # no n at all: unknown
    assert trial_se(r, None, metric="val_accuracy") is None


def test_trial_se_is_unknown_for_a_loss_without_folds() -> None:
    assert trial_se(_rec(0, 0.31), 30, metric="val_loss") is None
    assert trial_se(_rec(0, None), 30, metric="val_accuracy") is None


def test_trial_se_uses_the_fold_spread_floored_by_the_pooled_binomial() -> None:
    folds = [{"fold": i, "val": {}, "test": {}} for i in range(5)]
    spread = _rec(0, 0.9, objective_se=0.04, folds=folds, n_val=30)
    assert trial_se(spread, None, metric="val_accuracy") == pytest.approx(0.04)
    # every fold scored 1.0: spread 0, but 150 pooled samples are not certainty
    perfect = _rec(0, 1.0, objective_se=0.0, folds=folds, n_val=30)
    assert trial_se(perfect, None, metric="val_accuracy") == pytest.approx(binomial_se(1.0, 150))
    # repeated 3 x 5-fold of a pool of 150: each sample is validated 3 times, counted once
    sized = [{"fold": i, "val": {}, "test": {}, "n_train": 120, "n_val": 30} for i in range(15)]
    again = _rec(0, 1.0, objective_se=0.0, folds=sized, n_val=30)
    assert trial_se(again, None, metric="val_accuracy") == pytest.approx(binomial_se(1.0, 150))
    # a loss keeps its fold spread as is
    loss = _rec(0, 0.2, objective_se=0.0, folds=folds)
    assert trial_se(loss, 30, metric="val_loss") == 0.0


# --- the tied set ------------------------------------------------------------------------------


def test_one_trial_is_the_best_alone() -> None:
    tie = tied_with_best([0.8], [0.05])
    assert (tie.best, tie.tied, tie.apart, tie.unknown) == (0, (0,), (), ())
    assert not tie.inside_noise
    assert tie.widest_gap == 0.0


def test_tied_and_apart_by_combined_standard_errors() -> None:
    # best 0.9 ± 0.03; 0.85 ± 0.04: gap 0.05 <= 1.96·0.05 = 0.098 -> tied
    # 0.70 ± 0.04: gap 0.20 > 0.098 -> apart
    tie = tied_with_best([0.85, 0.9, 0.70], [0.04, 0.03, 0.04])
    assert tie.best == 1
    assert tie.tied == (1, 0)
    assert tie.apart == (2,)
    assert tie.inside_noise
    assert tie.widest_gap == pytest.approx(0.05)
    assert [tie.status(i) for i in range(3)] == ["tied", "best", "worse"]
    # exactly on the boundary counts as tied; just past it does not
    assert tied_with_best([1.0, 1.0 - 1.96 * 0.05], [0.03, 0.04]).tied == (0, 1)
    assert tied_with_best([1.0, 1.0 - 1.96 * 0.05 - 1e-6], [0.03, 0.04]).apart == (1,)
    # a smaller z separates them
    assert tied_with_best([0.85, 0.9], [0.04, 0.03], z=0.5).apart == (0,)


def test_minimize_takes_the_lowest_value() -> None:
    tie = tied_with_best([0.30, 0.20, 0.21, 0.90], [0.02, 0.02, 0.02, 0.02], maximize=False)
    assert tie.best == 1
    assert tie.tied == (1, 2)
    assert tie.apart == (0, 3)


def test_equal_values_are_tied_and_the_first_is_best() -> None:
    tie = tied_with_best([0.9, 0.9, 0.9], [0.0, 0.0, None])
    assert tie.best == 0
    assert tie.tied == (0, 1, 2)
    assert tie.widest_gap == 0.0


def test_all_standard_errors_missing_leaves_every_comparison_unknown() -> None:
    tie = tied_with_best([0.5, 0.4, 0.3], [None, None, None], maximize=False)
    assert tie.best == 2
    assert tie.tied == (2,)
    assert tie.unknown == (1, 0)
    assert tie.apart == ()
    assert not tie.inside_noise
    assert tie.status(0) == "?"


def test_one_known_se_settles_small_gaps_only() -> None:
    # combined SE >= 0.05, so a gap of 0.05 is surely within 1.96 SE; 0.5 is undecidable
    tie = tied_with_best([0.9, 0.85, 0.4], [0.05, None, None])
    assert tie.tied == (0, 1)
    assert tie.unknown == (2,)


def test_non_finite_values_are_skipped_and_bad_input_refused() -> None:
    tie = tied_with_best([math.nan, 0.7, 0.6], [0.01, 0.01, 0.01])
    assert tie.best == 1
    assert 0 not in tie.tied + tie.apart + tie.unknown
    assert tie.status(0) == ""
    with pytest.raises(ValueError, match="finite"):
        tied_with_best([math.nan], [None])
    with pytest.raises(ValueError, match=">= 0"):
        tied_with_best([0.5, 0.4], [0.1, -0.1])
    with pytest.raises(ValueError, match="same length"):
        tied_with_best([0.5, 0.4], [0.1])


def test_rank_with_noise_orders_best_first_with_ties_by_trial() -> None:
    scores = [
        Score((4,), 0.8, 0.01, ""),
        Score((2,), 0.9, 0.01, ""),
        Score((1,), 0.9, 0.01, ""),
    ]
    ranking = rank_with_noise(scores, maximize=True)
    assert [s.trial for s in ranking.scores] == [1, 2, 4]
    assert ranking.status(1) == "best"
    assert ranking.status(2) == "tied"
    assert ranking.status(4) == "worse"
    assert ranking.status(99) == ""
    assert rank_with_noise([], maximize=True).tie is None


# --- configurations over seeds ------------------------------------------------------------------


def test_config_scores_average_the_seeds_of_a_point() -> None:
    records = [
        _rec(0, 0.80, point_key='{"lr": 0.1}#0'),
        _rec(1, 0.90, point_key='{"lr": 0.1}#1'),
        _rec(2, 0.70, point_key='{"lr": 0.01}#0'),
        _rec(3, 0.95),  # a sampled trial: its own configuration
        TrialRecord(number=4, state="pruned", params={}, seed=0, point_key='{"lr": 0.1}#2'),
    ]
    assert config_key(records[0]) == config_key(records[1]) == '{"lr": 0.1}'
    assert config_key(records[3]) == "trial 3"
    scores = config_scores(records, metric="val_accuracy", n_val=30)
    assert [s.trials for s in scores] == [(0, 1), (2,), (3,)]
    pair = scores[0]
    assert pair.value == pytest.approx(0.85)
    between = math.sqrt(0.005) / math.sqrt(2)  # sd of (0.8, 0.9) is sqrt(0.005)
    within = math.sqrt((binomial_se(0.8, 30) ** 2 + binomial_se(0.9, 30) ** 2) / 2)
    assert pair.se == pytest.approx(math.hypot(between, within))
    assert pair.basis == "2 seeds"
    assert scores[1].se == pytest.approx(binomial_se(0.7, 30))
    # a loss has no per-trial SE: only the seeds' spread is left
    loss = config_scores(records[:2], metric="val_loss", n_val=30)
    assert loss[0].se == pytest.approx(between)
    assert loss[0].basis == "2 seeds only"


# --- confirm.json -------------------------------------------------------------------------------


def _confirm(**patch: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "objective": "val_accuracy",
        "direction": "maximize",
        "repeats": 2,
        "folds_per_repeat": 5,
        "candidates": [
            {
                "trial": 12,
                "params": {"lr": 0.01},
                "search_value": 0.98,
                "search_se": 0.01,
                "search_rank": 1,
                "confirm_value": 0.95,
                "confirm_se": 0.01,
                "confirm_values": [0.94, 0.96],
                "confirm_rank": 2,
            },
            {
                "trial": 3,
                "params": {"lr": 0.03},
                "search_value": 0.97,
                "search_se": 0.01,
                "search_rank": 2,
                "confirm_value": 0.96,
                "confirm_se": 0.02,
                "confirm_values": [0.95, 0.97],
                "confirm_rank": 1,
            },
        ],
        "winner": 3,
    }
    data.update(patch)
    return data


def test_read_confirmation(tmp_path: Path) -> None:
    path = tmp_path / "confirm.json"
    assert read_confirmation(path) is None
    path.write_text(json.dumps(_confirm()), encoding="utf-8")
    conf = read_confirmation(path)
    assert conf is not None
    assert [c.trial for c in conf.candidates] == [3, 12]  # by confirmed rank
    assert conf.search_best == 12
    assert conf.changed
    assert conf.candidate(12).confirm_values == (0.94, 0.96)
    path.write_text(json.dumps(_confirm(winner=12)), encoding="utf-8")
    assert not read_confirmation(path).changed  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"winner": 99}, "winner"),
        ({"candidates": []}, "at least one candidate"),
        ({"candidates": [{"trial": 1}]}, "cannot be read"),
        ({"repeats": "two"}, "cannot be read"),
    ],
)
def test_read_confirmation_refuses_malformed_files(
    tmp_path: Path, patch: dict[str, Any], message: str
) -> None:
    path = tmp_path / "confirm.json"
    path.write_text(json.dumps(_confirm(**patch)), encoding="utf-8")
    with pytest.raises(StudyError, match=message):
        read_confirmation(path)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(StudyError, match="must be a confirmation file"):
        read_confirmation(path)
