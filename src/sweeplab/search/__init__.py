"""Which trials run next: designs and Optuna samplers and pruners."""

from sweeplab.search._designs import DESIGN_STRATEGIES, Point, design_points
from sweeplab.search._strategies import make_pruner, make_sampler, model_based

__all__ = [
    "DESIGN_STRATEGIES",
    "Point",
    "design_points",
    "make_pruner",
    "make_sampler",
    "model_based",
]
