"""The one vocabulary of names: parameters, activations, optimizers, strategies, metrics.

Every other module takes these names from here, so a new activation or
strategy is added in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ACTIVATIONS",
    "CATEGORICAL_PARAMS",
    "INT_PARAMS",
    "MAX_DEPTH",
    "MAX_SEED",
    "METRICS",
    "METRIC_NAMES",
    "OPTIMIZERS",
    "PLANNED_STRATEGIES",
    "SAMPLED_STRATEGIES",
    "STRATEGIES",
    "STRATEGY_TRAITS",
    "StrategyTraits",
]

ACTIVATIONS = ("relu", "tanh", "gelu", "sigmoid")
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "rmsprop")


@dataclass(frozen=True)
class StrategyTraits:
    """What a search strategy is, in the terms every other module asks about.

    ``planned``: its trials are design points sweeplab plans (grid, ofat), not
    draws from an Optuna sampler. ``sampler``: the Optuna sampler family of the
    others. ``model_based``: it learns from finished trials, so trials are asked
    in small batches. ``pruner``: ``"hyperband"``, ``"halving"`` (successive
    halving) or ``None``. ``multi_objective``: its sampler takes several
    directions.
    """

    planned: bool = False
    sampler: str | None = None
    model_based: bool = False
    pruner: str | None = None
    multi_objective: bool = False


STRATEGY_TRAITS: dict[str, StrategyTraits] = {
    "grid": StrategyTraits(planned=True),
    "random": StrategyTraits(sampler="random", multi_objective=True),
    "sobol": StrategyTraits(sampler="sobol", multi_objective=True),
    "tpe": StrategyTraits(sampler="tpe", model_based=True, multi_objective=True),
    "gp": StrategyTraits(sampler="gp", model_based=True),
    "cmaes": StrategyTraits(sampler="cmaes", model_based=True),
    "hyperband": StrategyTraits(sampler="random", pruner="hyperband"),
    "asha": StrategyTraits(sampler="random", pruner="halving"),
    "bohb": StrategyTraits(sampler="tpe", model_based=True, pruner="hyperband"),
    "ofat": StrategyTraits(planned=True),
}
"""The one table of search strategies; ``STRATEGIES`` lists its names in this order."""
STRATEGIES = tuple(STRATEGY_TRAITS)
PLANNED_STRATEGIES = frozenset(k for k, t in STRATEGY_TRAITS.items() if t.planned)
SAMPLED_STRATEGIES = tuple(k for k, t in STRATEGY_TRAITS.items() if not t.planned)
METRIC_NAMES = (
    "accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
)
"""The classification metrics computed for every split, in report order (plus ``loss``)."""
METRICS = (
    "val_accuracy",
    "val_loss",
    "val_f1_macro",
    "val_f1_weighted",
    "val_precision_macro",
    "val_precision_weighted",
    "val_recall_macro",
    "val_recall_weighted",
)
MAX_DEPTH = 8
MAX_SEED = 2**32 - 1
"""The largest ``study.seed``: every seed consumer (numpy, scikit-learn, torch) takes it."""
INT_PARAMS = frozenset(
    {"depth", "units", "batch_size", "epochs", *(f"units{i}" for i in range(1, MAX_DEPTH + 1))}
)
"""Parameters whose values are integers."""
CATEGORICAL_PARAMS = frozenset({"activation", "optimizer"})
"""Parameters whose values are names."""
