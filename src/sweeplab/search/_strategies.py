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


def make_pruner(
    strategy: str,
    max_epochs: int,
    min_resource: int | None = None,
    reduction_factor: int | None = None,
) -> BasePruner:
    """Hyperband for ``hyperband``/``bohb``, successive halving for ``asha``.

    ``min_resource`` (default 1) and ``reduction_factor`` (default 3) are the
    first rung and eta, as a W&B sweep's ``early_terminate`` sets them.
    """
    low = min_resource or 1
    eta = reduction_factor or 3
    if strategy in ("hyperband", "bohb") and max_epochs > low:
        return HyperbandPruner(min_resource=low, max_resource=max_epochs, reduction_factor=eta)
    if strategy == "asha" and max_epochs > low:
        return SuccessiveHalvingPruner(min_resource=low, reduction_factor=eta)
    return NopPruner()
