"""Which trials run next: the space, planned designs, and Optuna samplers and pruners."""

from sweeplab.search._designs import DESIGN_STRATEGIES, Point, design_points
from sweeplab.search._space import (
    active_names,
    axis_values,
    distributions,
    grid_points,
    is_active,
    suggest,
)
from sweeplab.search._strategies import make_pruner, make_sampler, model_based

__all__ = [
    "DESIGN_STRATEGIES",
    "Point",
    "active_names",
    "axis_values",
    "design_points",
    "distributions",
    "grid_points",
    "is_active",
    "make_pruner",
    "make_sampler",
    "model_based",
    "suggest",
]
