"""Strategy names mapped to Optuna samplers and pruners."""

from __future__ import annotations

import warnings

import optuna
from optuna.pruners import BasePruner, HyperbandPruner, NopPruner, SuccessiveHalvingPruner
from optuna.samplers import BaseSampler

__all__ = ["make_pruner", "make_sampler", "model_based"]

_MODEL_BASED = frozenset({"tpe", "gp", "cmaes", "bohb"})


def model_based(strategy: str) -> bool:
    """Whether the strategy learns from finished trials (so asks in small batches)."""
    return strategy in _MODEL_BASED


def make_sampler(strategy: str, seed: int) -> BaseSampler:
    """The Optuna sampler behind ``strategy``, seeded."""
    if strategy in ("tpe", "bohb"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(
                seed=seed, multivariate=True, group=True, constant_liar=True
            )
    if strategy == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if strategy == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if strategy == "sobol":
        return optuna.samplers.QMCSampler(
            qmc_type="sobol", scramble=True, seed=seed, warn_independent_sampling=False
        )
    return optuna.samplers.RandomSampler(seed=seed)


def make_pruner(strategy: str, max_epochs: int) -> BasePruner:
    """Hyperband for ``hyperband``/``bohb``, successive halving for ``asha``."""
    if strategy in ("hyperband", "bohb") and max_epochs > 1:
        return HyperbandPruner(min_resource=1, max_resource=max_epochs, reduction_factor=3)
    if strategy == "asha" and max_epochs > 1:
        return SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    return NopPruner()
