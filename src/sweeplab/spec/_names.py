"""The one vocabulary of names: parameters, activations, optimizers, strategies, metrics.

Every other module takes these names from here, so a new activation or
strategy is added in one place.
"""

from __future__ import annotations

__all__ = [
    "ACTIVATIONS",
    "CATEGORICAL_PARAMS",
    "INT_PARAMS",
    "MAX_DEPTH",
    "MAX_SEED",
    "METRICS",
    "OPTIMIZERS",
    "STRATEGIES",
]

ACTIVATIONS = ("relu", "tanh", "gelu", "sigmoid")
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "rmsprop")
STRATEGIES = (
    "grid",
    "random",
    "sobol",
    "tpe",
    "gp",
    "cmaes",
    "hyperband",
    "asha",
    "bohb",
    "ofat",
)
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
