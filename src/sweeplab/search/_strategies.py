"""Strategy names mapped to Optuna samplers and pruners."""

from __future__ import annotations

import warnings

import optuna
from optuna.pruners import BasePruner, HyperbandPruner, NopPruner, SuccessiveHalvingPruner
from optuna.samplers import BaseSampler

from sweeplab.spec import STRATEGY_TRAITS

__all__ = ["make_pruner", "make_sampler", "model_based"]


def model_based(strategy: str) -> bool:
    """Whether the strategy learns from finished trials (so asks in small batches)."""
    return STRATEGY_TRAITS[strategy].model_based


def make_sampler(strategy: str, seed: int) -> BaseSampler:
    """The Optuna sampler behind ``strategy``, seeded."""
    family = STRATEGY_TRAITS[strategy].sampler
    if family == "tpe":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(
                seed=seed, multivariate=True, group=True, constant_liar=True
            )
    if family == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if family == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if family == "sobol":
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
    kind = STRATEGY_TRAITS[strategy].pruner
    if kind == "hyperband" and max_epochs > low:
        return HyperbandPruner(min_resource=low, max_resource=max_epochs, reduction_factor=eta)
    if kind == "halving" and max_epochs > low:
        return SuccessiveHalvingPruner(min_resource=low, reduction_factor=eta)
    return NopPruner()
