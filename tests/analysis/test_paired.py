"""The paired fold-wise tie test against the unpaired one, on records with shared folds."""

from __future__ import annotations

import math

import numpy as np

from sweeplab.analysis import paired_fold_ties, tied_with_best
from sweeplab.store import TrialRecord


def _rec(number: int, folds: np.ndarray) -> TrialRecord:
    return TrialRecord(
        number=number,
        state="complete",
        params={},
        seed=number,
        objective=float(folds.mean()),
        folds=[
            {"fold": f, "val": {"accuracy": float(v)}, "n_train": 96, "n_val": 24}
            for f, v in enumerate(folds)
        ],
    )


def test_shared_fold_difficulty_cancels_in_the_paired_test() -> None:
    rng = np.random.default_rng(1)
    difficulty = rng.normal(0.0, 0.05, size=5)  # some folds are harder for every trial
    best = _rec(0, 0.90 + difficulty + rng.normal(0, 0.003, 5))
    other = _rec(1, 0.87 + difficulty + rng.normal(0, 0.003, 5))
    se = [
        float(np.std([f["val"]["accuracy"] for f in r.folds or []], ddof=1)) for r in (best, other)
    ]
    unpaired = tied_with_best(
        [best.objective or 0.0, other.objective or 0.0], [s * math.sqrt(0.45) for s in se]
    )
    assert unpaired.tied == (0, 1)  # unpaired: the shared spread hides the gap
    (pair,) = paired_fold_ties([best, other], metric="val_accuracy", maximize=True)
    assert pair.trial == 1
    assert not pair.tied
    assert pair.diff > 0


def test_paired_fold_test_is_calibrated_on_equal_trials() -> None:
    rng = np.random.default_rng(2)
    sims, called = 1000, 0
    for _ in range(sims):
        difficulty = rng.normal(0.0, 0.05, size=5)
        a = _rec(0, 0.9 + difficulty + rng.normal(0, 0.01, 5))
        b = _rec(1, 0.9 + difficulty + rng.normal(0, 0.01, 5))
        (pair,) = paired_fold_ties([a, b], metric="val_accuracy", maximize=True)
        called += not pair.tied
    assert called / sims <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / sims)


def test_no_folds_no_paired_test() -> None:
    plain = TrialRecord(number=0, state="complete", params={}, seed=0, objective=0.9)
    assert paired_fold_ties([plain, plain], metric="val_accuracy", maximize=True) == []
