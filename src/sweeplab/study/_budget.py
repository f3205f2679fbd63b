"""How many trials a study runs and how many epochs its longest trial trains."""

from __future__ import annotations

from collections.abc import Sequence

from sweeplab.errors import SpecError
from sweeplab.search import DESIGN_STRATEGIES, Point, design_points
from sweeplab.spec import StudySpec

__all__ = ["DEFAULT_TRIALS", "max_epochs", "study_budget"]

DEFAULT_TRIALS = 20
"""The budget of a sampled study without ``search.trials``."""


def study_budget(spec: StudySpec, points: Sequence[Point] | None = None) -> int:
    """How many trials a study runs: its planned points (at most ``trials``) or ``trials``."""
    if spec.objective is None and spec.search.strategy in DESIGN_STRATEGIES:
        planned = len(design_points(spec) if points is None else points)
        total = min(spec.search.trials or planned, planned)
    else:
        total = spec.search.trials or DEFAULT_TRIALS
    if total < 1:
        raise SpecError(f"search.space must give at least one trial for {spec.search.strategy!r}")
    return total


def max_epochs(spec: StudySpec) -> int:
    """The most epochs any trial of the study may train (the pruner's max resource)."""
    best = spec.params.epochs
    dim = spec.search.space.get("epochs")
    if isinstance(dim, list):
        best = max(best, *(int(v) for v in dim))
    elif dim is not None:
        best = max(best, int(dim.high))
    for cfg in spec.search.configs:
        best = max(best, int(cfg.get("epochs", best)))
    return best
