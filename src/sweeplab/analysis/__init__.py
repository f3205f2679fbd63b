"""Analysis of finished studies: relations, importance, interactions, strategies, winner noise.

Every estimate comes with its uncertainty, and every random step (bootstrap,
fANOVA forests) is seeded, so the same study always gives the same numbers.

The selection functions (standard errors, ranking with noise, the Pareto front)
need only numpy and are imported here; the rest (pandas, scipy, scikit-learn)
is imported on first use, so ``sweeplab status`` does not pay for them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from sweeplab.analysis._pareto import pareto_front
from sweeplab.analysis._selection import (
    Z_TIE,
    Ranking,
    Score,
    TieSet,
    binomial_se,
    combined_se,
    config_key,
    config_scores,
    rank_with_noise,
    tied_with_best,
    trial_scores,
    trial_se,
)

if TYPE_CHECKING:
    from sweeplab.analysis._compare import (
        CompareResult,
        Pairwise,
        RunResult,
        StrategySummary,
        min_repeats,
        pairwise_tests,
        repeats_needed,
        run_result,
        sign_flip_p,
        summarize,
    )
    from sweeplab.analysis._frame import StudyFrame, study_frame
    from sweeplab.analysis._importance import MIN_RESAMPLES, MIN_TRIALS, Importance, importances
    from sweeplab.analysis._interactions import Interaction, interactions
    from sweeplab.analysis._ofat import BaselineNoise, LevelEffect, level_effects
    from sweeplab.analysis._paired import PairedTie, paired_fold_ties
    from sweeplab.analysis._relations import ALPHA, Relation, ValueStat, relation, relations
    from sweeplab.analysis._stats import Interval, bootstrap_ci, mean_ci, spearman, spearman_ci
    from sweeplab.analysis._trend import spearman_test

__all__ = [
    "ALPHA",
    "MIN_RESAMPLES",
    "MIN_TRIALS",
    "Z_TIE",
    "BaselineNoise",
    "CompareResult",
    "Importance",
    "Interaction",
    "Interval",
    "LevelEffect",
    "PairedTie",
    "Pairwise",
    "Ranking",
    "Relation",
    "RunResult",
    "Score",
    "StrategySummary",
    "StudyFrame",
    "TieSet",
    "ValueStat",
    "binomial_se",
    "bootstrap_ci",
    "combined_se",
    "config_key",
    "config_scores",
    "importances",
    "interactions",
    "level_effects",
    "mean_ci",
    "min_repeats",
    "paired_fold_ties",
    "pairwise_tests",
    "pareto_front",
    "rank_with_noise",
    "relation",
    "relations",
    "repeats_needed",
    "run_result",
    "sign_flip_p",
    "spearman",
    "spearman_ci",
    "spearman_test",
    "study_frame",
    "summarize",
    "tied_with_best",
    "trial_scores",
    "trial_se",
]

#: Names imported on first use, and the module that defines each.
_LAZY = {
    "ALPHA": "sweeplab.analysis._relations",
    "BaselineNoise": "sweeplab.analysis._ofat",
    "CompareResult": "sweeplab.analysis._compare",
    "Importance": "sweeplab.analysis._importance",
    "Interaction": "sweeplab.analysis._interactions",
    "Interval": "sweeplab.analysis._stats",
    "LevelEffect": "sweeplab.analysis._ofat",
    "MIN_RESAMPLES": "sweeplab.analysis._importance",
    "MIN_TRIALS": "sweeplab.analysis._importance",
    "PairedTie": "sweeplab.analysis._paired",
    "Pairwise": "sweeplab.analysis._compare",
    "Relation": "sweeplab.analysis._relations",
    "RunResult": "sweeplab.analysis._compare",
    "StrategySummary": "sweeplab.analysis._compare",
    "StudyFrame": "sweeplab.analysis._frame",
    "ValueStat": "sweeplab.analysis._relations",
    "bootstrap_ci": "sweeplab.analysis._stats",
    "importances": "sweeplab.analysis._importance",
    "interactions": "sweeplab.analysis._interactions",
    "level_effects": "sweeplab.analysis._ofat",
    "mean_ci": "sweeplab.analysis._stats",
    "min_repeats": "sweeplab.analysis._compare",
    "paired_fold_ties": "sweeplab.analysis._paired",
    "pairwise_tests": "sweeplab.analysis._compare",
    "relation": "sweeplab.analysis._relations",
    "relations": "sweeplab.analysis._relations",
    "repeats_needed": "sweeplab.analysis._compare",
    "run_result": "sweeplab.analysis._compare",
    "sign_flip_p": "sweeplab.analysis._compare",
    "spearman": "sweeplab.analysis._stats",
    "spearman_ci": "sweeplab.analysis._stats",
    "spearman_test": "sweeplab.analysis._trend",
    "study_frame": "sweeplab.analysis._frame",
    "summarize": "sweeplab.analysis._compare",
}


def __getattr__(name: str) -> Any:
    """Import the pandas/scipy-backed names on first use."""
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
