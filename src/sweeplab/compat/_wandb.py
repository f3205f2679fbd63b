"""W&B sweep files: parse, validate and turn them into a sweeplab study.

A sweep trains either the built-in MLP (every parameter is one of its
parameters) or a Python function named by ``program: file.py:function`` that
takes the sampled ``config`` and returns its metrics. Keys that only make
sense to a W&B agent are ignored with a note that says why.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from scipy.stats import norm

from sweeplab.errors import SpecError
from sweeplab.spec import METRICS, StudySpec, absolute_target, param_names, spec_from_dict

__all__ = [
    "DISTRIBUTIONS",
    "SweepConfig",
    "grid_space",
    "load_sweep",
    "sample_config",
    "sweep_spec",
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
)
_MLP_DISTRIBUTIONS = frozenset(DISTRIBUTIONS[:7])
_METHODS = {"grid": "grid", "random": "random", "bayes": "tpe"}
_TOP_KEYS = frozenset(
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
class _Param:
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


def _parse_param(path: str, raw: Any, notes: list[str]) -> _Param:
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
    p = _Param(path, dist)
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
    if dist in ("normal", "q_normal", "log_normal", "q_log_normal"):
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


def _flatten(parameters: Mapping[str, Any], notes: list[str], prefix: str = "") -> list[_Param]:
    if not isinstance(parameters, Mapping) or not parameters:
        raise SpecError(
            f"{_where(prefix.rstrip('.')) if prefix else 'parameters'} must be a non-empty mapping"
        )
    out: list[_Param] = []
    for name, raw in parameters.items():
        path = f"{prefix}{name}"
        if isinstance(raw, Mapping) and "parameters" in raw:
            out += _flatten(raw["parameters"], notes, f"{path}.")
        else:
            out.append(_parse_param(path, raw, notes))
    return out


def _round_q(x: float, q: float | None) -> float:
    return x if q is None else round(x / q) * q


def _suggest(trial: optuna.Trial, p: _Param, grid: bool) -> Any:
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
    # Normal families: a uniform quantile mapped through the normal's inverse CDF,
    # so every sampler (TPE included) searches a bounded space.
    u = trial.suggest_float(f"{p.name}.quantile", _EPS, 1 - _EPS)
    x = p.mu + p.sigma * float(norm.ppf(u))
    if p.dist.endswith("log_normal"):
        x = math.exp(x)
    return _round_q(x, p.q)


def _grid_values(p: _Param) -> list[Any]:
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
    params = _flatten(parameters, [])
    flat = {p.name: _suggest(trial, p, grid) for p in params}
    trial.set_user_attr("sweeplab.config", flat)
    return _nest(flat)


def grid_space(parameters: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The Optuna ``GridSampler`` space of a W&B ``parameters`` block."""
    return {p.name: _grid_values(p) for p in _flatten(parameters, []) if p.dist != "constant"}


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


def load_sweep(path: str | Path) -> dict[str, Any]:
    """Read a W&B sweep YAML file into a mapping."""
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(f"sweep file must exist, but {str(path)!r} was not found") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{path} must be a W&B sweep mapping, but got {type(raw).__name__}")
    return raw


def _study_name(raw: Mapping[str, Any], path: Path | None) -> str:
    base = str(raw.get("name") or (path.stem if path else "sweep")).lower()
    name = re.sub(r"[^a-z0-9_-]+", "-", base).strip("-_")[:64]
    return name or "sweep"


def sweep_spec(
    raw: Mapping[str, Any], *, path: str | Path | None = None, overrides: list[str] | None = None
) -> tuple[StudySpec, list[str]]:
    """A sweeplab study from a W&B sweep mapping, and notes on what was ignored and why.

    Raises:
        SpecError: a key or value cannot be honoured at all (the message says which).
    """
    src = Path(path) if path is not None else None
    notes: list[str] = []
    for key in sorted(set(raw) - _TOP_KEYS):
        raise SpecError(f"{key} is not a known key of a W&B sweep ({', '.join(sorted(_TOP_KEYS))})")
    for key in ("project", "entity", "description"):
        if key in raw:
            notes.append(f"{key} ignored: it names W&B cloud state; the study lives in runs/<name>")
    if "command" in raw:
        notes.append(
            "command ignored: sweeplab calls the model or function itself, not a W&B agent"
        )
    method = raw.get("method")
    if method not in _METHODS:
        raise SpecError(f"method must be one of grid, random, bayes, but got {method!r}")
    strategy = _METHODS[method]
    metric = raw.get("metric") or {}
    if not isinstance(metric, Mapping):
        raise SpecError(f"metric must be a mapping with name and goal, but got {metric!r}")
    goal = metric.get("goal", "minimize")
    if goal not in ("minimize", "maximize"):
        raise SpecError(f"metric.goal must be minimize or maximize, but got {goal!r}")
    if "target" in metric:
        notes.append("metric.target ignored: the study runs its whole budget")
    if method == "bayes" and "name" not in metric:
        raise SpecError("metric.name is required for method 'bayes'")
    search: dict[str, Any] = {"strategy": strategy}
    run_cap = raw.get("run_cap")
    if run_cap is not None:
        if isinstance(run_cap, bool) or not isinstance(run_cap, int) or run_cap < 1:
            raise SpecError(f"run_cap must be an integer >= 1, but got {run_cap!r}")
        search["trials"] = run_cap
    et = raw.get("early_terminate")
    if et is not None:
        search.update(_early_terminate(et, method, notes))
        if method != "grid":
            search["strategy"] = "hyperband" if method == "random" else "bohb"
    params = _flatten(raw.get("parameters") or {}, notes)
    program = raw.get("program")
    function = None
    if isinstance(program, str) and re.match(r"^.+\.py:[A-Za-z_][A-Za-z0-9_]*$", program):
        function = absolute_target(program, src.parent if src else Path.cwd())
    elif program is not None:
        notes.append(
            f"program {program!r} ignored: it is a script that expects a W&B agent; sweeplab "
            "trains the built-in MLP (or name a function: program: train.py:train)"
        )
    study: dict[str, Any] = {"name": _study_name(raw, src), "direction": goal}
    extra = raw.get("sweeplab") or {}
    if not isinstance(extra, Mapping):
        raise SpecError(f"sweeplab must be a mapping of study-file sections, but got {extra!r}")
    doc: dict[str, Any]
    if function is not None:
        if method == "grid":
            grid = grid_space(raw["parameters"])
            size = math.prod(len(v) for v in grid.values()) if grid else 1
            search["trials"] = min(search.get("trials", size), size)
        doc = {
            "study": study,
            "search": search,
            "objective": {
                "target": function,
                "kind": "wandb",
                "parameters": dict(raw["parameters"]),
                "metric": metric.get("name"),
            },
        }
    else:
        doc = _mlp_doc(params, study, search, metric.get("name"))
    for section, values in extra.items():
        if not isinstance(values, Mapping):
            raise SpecError(f"sweeplab.{section} must be a mapping, but got {values!r}")
        doc[section] = {**doc.get(section, {}), **values}
    for note in notes:
        _log.info("W&B sweep: %s", note)
    return spec_from_dict(doc, overrides or []), notes


def _early_terminate(et: Any, method: str, notes: list[str]) -> dict[str, Any]:
    if not isinstance(et, Mapping) or et.get("type") != "hyperband":
        raise SpecError(f"early_terminate.type must be 'hyperband', but got {et!r}")
    eta = et.get("eta", 3)
    if isinstance(eta, bool) or not isinstance(eta, int) or eta < 2:
        raise SpecError(f"early_terminate.eta must be an integer >= 2, but got {eta!r}")
    out: dict[str, Any] = {"reduction_factor": eta}
    if "min_iter" in et:
        out["min_resource"] = int(et["min_iter"])
        if "max_iter" in et:
            notes.append("early_terminate.max_iter ignored: min_iter is given and wins")
    elif "max_iter" in et:
        s = et.get("s")
        if s is None:
            raise SpecError("early_terminate.s is required with max_iter (the number of brackets)")
        out["min_resource"] = max(1, int(et["max_iter"]) // int(eta) ** int(s))
        notes.append(
            "early_terminate.max_iter and s set the first rung (max_iter / eta**s); the last "
            "rung is the trial's own length (its epochs or its last reported step)"
        )
    else:
        raise SpecError("early_terminate must give min_iter or max_iter")
    if "strict" in et:
        notes.append("early_terminate.strict ignored: Optuna's Hyperband pruner has one mode")
    if method == "grid":
        notes.append("early_terminate ignored for method 'grid': a grid runs every point fully")
    return out


def _mlp_doc(
    params: list[_Param], study: dict[str, Any], search: dict[str, Any], metric: str | None
) -> dict[str, Any]:
    names = set(param_names())
    leaf = {p.name.rsplit(".", 1)[-1]: p for p in params}
    unknown = [n for n in leaf if n not in names]
    if unknown:
        raise SpecError(
            f"parameters {', '.join(unknown)} must be built-in MLP parameters "
            f"({', '.join(sorted(names))}) or the sweep must name a function "
            f"(program: train.py:train), but got neither"
        )
    if metric is not None:
        if metric not in METRICS:
            raise SpecError(
                f"metric.name must be one of {', '.join(METRICS)} for the built-in MLP, "
                f"but got {metric!r}"
            )
        study["objective"] = metric
    baseline: dict[str, Any] = {}
    space: dict[str, Any] = {}
    for name, p in leaf.items():
        if p.dist not in _MLP_DISTRIBUTIONS:
            raise SpecError(
                f"parameters.{p.name}.distribution {p.dist!r} cannot drive the built-in MLP "
                f"(it supports {', '.join(sorted(_MLP_DISTRIBUTIONS))}); name a function "
                "with program: train.py:train to use it"
            )
        if p.dist == "constant":
            baseline[name] = p.values[0]
        elif p.dist == "categorical":
            space[name] = list(p.values)
        elif p.dist == "int_uniform":
            space[name] = {"low": int(p.low), "high": int(p.high)}
        elif p.dist == "uniform":
            space[name] = {"low": p.low, "high": p.high}
        elif p.dist == "q_uniform":
            space[name] = {"low": p.low, "high": p.high, "step": p.q}
        elif p.dist == "log_uniform":
            space[name] = {"low": math.exp(p.low), "high": math.exp(p.high), "log": True}
        else:
            space[name] = {"low": p.low, "high": p.high, "log": True}
    search = {**search, "space": space}
    return {"study": study, "params": baseline, "search": search}
