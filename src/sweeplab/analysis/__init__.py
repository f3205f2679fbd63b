"""Analysis of finished studies: relations, importance, interactions, strategies, winner noise.

Every estimate comes with its uncertainty, and every random step (bootstrap,
fANOVA forests) is seeded, so the same study always gives the same numbers.
"""

from __future__ import annotations

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
from sweeplab.analysis._pareto import pareto_front
from sweeplab.analysis._relations import ALPHA, Relation, ValueStat, relation, relations
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
