"""Analysis of finished studies: relations, importance, interactions, strategy comparison.

Every estimate comes with its uncertainty, and every random step (bootstrap,
fANOVA forests) is seeded, so the same study always gives the same numbers.
"""

from __future__ import annotations

from sweeplab.analysis._compare import (
    Pairwise,
    RunResult,
    StrategySummary,
    pairwise_tests,
    run_result,
    summarize,
)
from sweeplab.analysis._frame import StudyFrame, study_frame
from sweeplab.analysis._importance import Importance, importances
from sweeplab.analysis._interactions import Interaction, interactions
from sweeplab.analysis._relations import Relation, ValueStat, relation, relations
from sweeplab.analysis._stats import Interval, bootstrap_ci, mean_ci, spearman, spearman_ci

__all__ = [
    "Importance",
    "Interaction",
    "Interval",
    "Pairwise",
    "Relation",
    "RunResult",
    "StrategySummary",
    "StudyFrame",
    "ValueStat",
    "bootstrap_ci",
    "importances",
    "interactions",
    "mean_ci",
    "pairwise_tests",
    "relation",
    "relations",
    "run_result",
    "spearman",
    "spearman_ci",
    "study_frame",
    "summarize",
]
