"""W&B sweep parameters: the distributions, sampling them through Optuna, and ``train`` objectives.

Normal-family distributions are sampled through a uniform quantile and the
inverse CDF, so every sampler sees a bounded space.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna

from sweeplab.errors import SpecError

__all__ = [
    "DISTRIBUTIONS",
    "METHODS",
    "MLP_DISTRIBUTIONS",
    "TOP_KEYS",
    "Param",
    "SweepConfig",
    "flatten",
    "grid_space",
    "sample_config",
    "wandb_objective",
]

_log = logging.getLogger(__name__)

DISTRIBUTIONS = (
    "constant",
    "categorical",
    "int_uniform",
    "uniform",
    "q_uniform",
    "log_uniform",
    "log_uniform_values",
    "q_log_uniform_values",
    "inv_log_uniform_values",
    "normal",
    "q_normal",
    "log_normal",
    "q_log_normal",
    "q_log_uniform",
    "inv_log_uniform",
    "beta",
    "q_beta",
)
MLP_DISTRIBUTIONS = frozenset(DISTRIBUTIONS[:7])
METHODS = {"grid": "grid", "random": "random", "bayes": "tpe"}
TOP_KEYS = frozenset(
    {
        "program",
        "method",
        "metric",
        "parameters",
        "early_terminate",
        "run_cap",
        "name",
        "description",
        "project",
        "entity",
        "command",
        "sweeplab",
    }
)
_PARAM_KEYS = frozenset(
    {
        "values",
        "value",
        "distribution",
        "min",
        "max",
        "mu",
        "sigma",
        "q",
        "probabilities",
        "parameters",
        "a",
        "b",
    }
)
_EPS = 1e-6


class SweepConfig(dict[str, Any]):
    """A sampled config, read as ``config["lr"]`` or ``config.lr`` like ``wandb.config``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class Param:
    name: str
    dist: str
    values: list[Any] = field(default_factory=list)
    low: float = 0.0
    high: float = 0.0
    mu: float = 0.0
    sigma: float = 1.0
    q: float | None = None


def _where(path: str) -> str:
    return f"parameters.{path}"


def _parse_param(path: str, raw: Any, notes: list[str]) -> Param:
    if not isinstance(raw, Mapping):
        raise SpecError(
            f"{_where(path)} must be a mapping such as {{values: [1, 2]}}, but got {raw!r}"
        )
    unknown = set(raw) - _PARAM_KEYS
    if unknown:
        raise SpecError(
            f"{_where(path)}.{sorted(unknown)[0]} is not a known key of a W&B parameter"
        )
    if "probabilities" in raw:
        notes.append(
            f"{_where(path)}.probabilities ignored: Optuna samplers draw categories uniformly"
        )
    dist = raw.get("distribution")
    if dist is None:
        if "values" in raw:
            dist = "categorical"
        elif "value" in raw:
            dist = "constant"
        elif "min" in raw and "max" in raw:
            ints = all(
                isinstance(raw[k], int) and not isinstance(raw[k], bool) for k in ("min", "max")
            )
            dist = "int_uniform" if ints else "uniform"
        elif "mu" in raw or "sigma" in raw:
            dist = "normal"
        else:
            raise SpecError(
                f"{_where(path)} must give values, value, min/max or mu/sigma, "
                f"but got {dict(raw)!r}"
            )
    if dist not in DISTRIBUTIONS:
        raise SpecError(
            f"{_where(path)}.distribution must be one of {', '.join(DISTRIBUTIONS)}, "
            f"but got {dist!r}"
        )
    p = Param(path, dist)
    if dist == "constant":
        if "value" not in raw:
            raise SpecError(f"{_where(path)}.value is required for distribution 'constant'")
        p.values = [raw["value"]]
        return p
    if dist == "categorical":
        values = raw.get("values")
        if not isinstance(values, list) or not values:
            raise SpecError(f"{_where(path)}.values must be a non-empty list, but got {values!r}")
        p.values = values
        return p
    if dist in ("beta", "q_beta"):
        p.mu = _number(path, "a", raw.get("a", 1.0))
        p.sigma = _number(path, "b", raw.get("b", 1.0))
        if min(p.mu, p.sigma) <= 0:
            raise SpecError(f"{_where(path)}.a and b must be > 0, but got {p.mu} and {p.sigma}")
    elif dist in ("normal", "q_normal", "log_normal", "q_log_normal"):
        p.mu = _number(path, "mu", raw.get("mu", 0.0))
        p.sigma = _number(path, "sigma", raw.get("sigma", 1.0))
        if p.sigma <= 0:
            raise SpecError(f"{_where(path)}.sigma must be > 0, but got {p.sigma}")
    else:
        for key in ("min", "max"):
            if key not in raw:
                raise SpecError(f"{_where(path)}.{key} is required for distribution {dist!r}")
        p.low = _number(path, "min", raw["min"])
        p.high = _number(path, "max", raw["max"])
        if p.high <= p.low:
            raise SpecError(f"{_where(path)}.max must be > min ({p.low}), but got {p.high}")
        if dist.endswith("_values") and p.low <= 0:
            raise SpecError(f"{_where(path)}.min must be > 0 for {dist!r}, but got {p.low}")
        if dist == "int_uniform" and not (p.low.is_integer() and p.high.is_integer()):
            raise SpecError(f"{_where(path)}.min and max must be integers for 'int_uniform'")
    if dist.startswith("q_"):
        p.q = _number(path, "q", raw.get("q", 1.0))
        if p.q <= 0:
            raise SpecError(f"{_where(path)}.q must be > 0, but got {p.q}")
    return p


def _number(path: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpecError(f"{_where(path)}.{key} must be a finite number, but got {value!r}")
    return float(value)


def flatten(parameters: Mapping[str, Any], notes: list[str], prefix: str = "") -> list[Param]:
    if not isinstance(parameters, Mapping) or not parameters:
        raise SpecError(
            f"{_where(prefix.rstrip('.')) if prefix else 'parameters'} must be a non-empty mapping"
        )
    out: list[Param] = []
    for name, raw in parameters.items():
        path = f"{prefix}{name}"
        if isinstance(raw, Mapping) and "parameters" in raw:
            out += flatten(raw["parameters"], notes, f"{path}.")
        else:
            out.append(_parse_param(path, raw, notes))
    return out


def _round_q(x: float, q: float | None) -> float:
    # Rounded to 12 digits so that q = 0.1 gives 0.3, not 0.30000000000000004.
    return x if q is None else round(round(x / q) * q, 12)


def _suggest(trial: optuna.Trial, p: Param, grid: bool) -> Any:
    if p.dist == "constant":
        return p.values[0]
    if grid:
        return trial.suggest_categorical(p.name, _grid_values(p))
    if p.dist == "categorical":
        return trial.suggest_categorical(p.name, p.values)
    if p.dist == "int_uniform":
        return trial.suggest_int(p.name, int(p.low), int(p.high))
    if p.dist == "uniform":
        return trial.suggest_float(p.name, p.low, p.high)
    if p.dist == "q_uniform":
        return _round_q(trial.suggest_float(p.name, p.low, p.high), p.q)
    if p.dist == "log_uniform":
        return trial.suggest_float(p.name, math.exp(p.low), math.exp(p.high), log=True)
    if p.dist == "log_uniform_values":
        return trial.suggest_float(p.name, p.low, p.high, log=True)
    if p.dist == "q_log_uniform_values":
        return _round_q(trial.suggest_float(p.name, p.low, p.high, log=True), p.q)
    if p.dist == "inv_log_uniform_values":
        return 1.0 / trial.suggest_float(f"{p.name}.inverse", 1 / p.high, 1 / p.low, log=True)
    # Exponent bounds (W&B's log_uniform family): log(X) or log(1/X) in [min, max].
    if p.dist == "q_log_uniform":
        return _round_q(
            trial.suggest_float(p.name, math.exp(p.low), math.exp(p.high), log=True), p.q
        )
    if p.dist == "inv_log_uniform":
        inverse = trial.suggest_float(
            f"{p.name}.inverse", math.exp(p.low), math.exp(p.high), log=True
        )
        return 1.0 / inverse
    # Normal and beta families: a uniform quantile mapped through the inverse CDF,
    # so every sampler (TPE included) searches a bounded space. (For beta,
    # ``mu`` and ``sigma`` hold its ``a`` and ``b``.)
    u = trial.suggest_float(f"{p.name}.quantile", _EPS, 1 - _EPS)
    from scipy.stats import beta, norm  # 1.3 s to import: only sweeps that use them pay

    if p.dist.endswith("beta"):
        return _round_q(float(beta.ppf(u, p.mu, p.sigma)), p.q)
    x = p.mu + p.sigma * float(norm.ppf(u))
    if p.dist.endswith("log_normal"):
        x = math.exp(x)
    return _round_q(x, p.q)


def _grid_values(p: Param) -> list[Any]:
    if p.dist in ("categorical", "constant"):
        return list(p.values)
    if p.dist == "int_uniform":
        return list(range(int(p.low), int(p.high) + 1))
    if p.dist == "q_uniform" and p.q is not None:
        n = math.floor((p.high - p.low) / p.q + 1e-9)
        return [round(p.low + i * p.q, 12) for i in range(n + 1)]
    raise SpecError(
        f"{_where(p.name)} must be discrete (values, int_uniform or q_uniform) for method 'grid', "
        f"but got distribution {p.dist!r}"
    )


def _nest(flat: Mapping[str, Any]) -> SweepConfig:
    out = SweepConfig()
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, SweepConfig())
        node[leaf] = value
    return out


def sample_config(
    trial: optuna.Trial, parameters: Mapping[str, Any], grid: bool = False
) -> SweepConfig:
    """Sample a W&B ``parameters`` block with Optuna; nested parameters give nested configs."""
    params = flatten(parameters, [])
    flat = {p.name: _suggest(trial, p, grid) for p in params}
    trial.set_user_attr("sweeplab.config", flat)
    return _nest(flat)


def grid_space(parameters: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The Optuna ``GridSampler`` space of a W&B ``parameters`` block."""
    return {p.name: _grid_values(p) for p in flatten(parameters, []) if p.dist != "constant"}


def wandb_objective(
    parameters: Mapping[str, Any],
    metric: str | None,
    train: Callable[[SweepConfig], Any],
    grid: bool = False,
) -> Callable[[optuna.Trial], float]:
    """An Optuna objective that samples a config and calls ``train(config)``.

    ``train`` returns a dict of metrics (``metric`` is the objective) or a number;
    a generator yields one dict per step, reported to the pruner.
    """

    def objective(trial: optuna.Trial) -> float:
        config = sample_config(trial, parameters, grid)
        out = train(config)
        if isinstance(out, Iterator):
            last: Any = None
            for step, row in enumerate(out):
                last = row
                trial.report(_pick(row, metric), step)
                if trial.should_prune():
                    _store_metrics(trial, row)
                    raise optuna.TrialPruned()
            out = last
        _store_metrics(trial, out)
        return _pick(out, metric)

    return objective


def _store_metrics(trial: optuna.Trial, out: Any) -> None:
    if isinstance(out, Mapping):
        numbers = {
            str(k).removeprefix("val_"): float(v)
            for k, v in out.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        trial.set_user_attr("sweeplab.metrics", numbers)


def _pick(out: Any, metric: str | None) -> float:
    if isinstance(out, Mapping):
        if metric is None or metric not in out:
            raise ValueError(
                f"train must return the metric {metric!r}, but returned keys {sorted(out)}"
            )
        return float(out[metric])
    if isinstance(out, (int, float)) and not isinstance(out, bool):
        return float(out)
    raise TypeError(f"train must return a dict of metrics or a number, but returned {out!r}")
