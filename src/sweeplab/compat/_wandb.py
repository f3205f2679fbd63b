"""W&B sweep files: parse, validate and turn them into a sweeplab study.

A sweep runs its own script (``program: train.py``, each trial as W&B's
agent runs it, offline: ``study._script``), a Python function named by
``program: file.py:function`` that takes the sampled ``config`` and returns
its metrics, or, without a ``program``, the built-in MLP (every parameter is
one of its parameters). ``name`` names the study, ``description`` is kept in
``study.description``, ``project``/``entity`` in ``track.project``/``entity``
(labels: nothing is sent anywhere). A key that cannot be honoured is refused
or noted in one line that says why.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sweeplab.compat._wandb_params import (
    METHODS,
    MLP_DISTRIBUTIONS,
    TOP_KEYS,
    Param,
    flatten,
    grid_space,
)
from sweeplab.errors import SpecError
from sweeplab.spec import METRICS, StudySpec, absolute_target, param_names, spec_from_dict

__all__ = ["load_sweep", "sweep_spec"]

_log = logging.getLogger(__name__)


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
    for key in sorted(set(raw) - TOP_KEYS):
        raise SpecError(f"{key} is not a known key of a W&B sweep ({', '.join(sorted(TOP_KEYS))})")
    labels = {k: raw[k] for k in ("project", "entity") if raw.get(k) is not None}
    for key, value in labels.items():
        if not isinstance(value, str) or not value.strip() or "/" in value:
            raise SpecError(f"{key} must be a name without '/', but got {value!r}")
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        raise SpecError(f"description must be text, but got {description!r}")
    command = raw.get("command")
    if command is not None and (
        not isinstance(command, list) or not command or any(isinstance(c, dict) for c in command)
    ):
        raise SpecError(
            f"command must be a non-empty list such as [${{program}}], but got {command!r}"
        )
    method = raw.get("method")
    if method not in METHODS:
        raise SpecError(f"method must be one of grid, random, bayes, but got {method!r}")
    strategy = METHODS[method]
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
    params = flatten(raw.get("parameters") or {}, notes)
    program = raw.get("program")
    base = src.parent.resolve() if src else Path.cwd()
    function = script = None
    if isinstance(program, str) and re.match(r"^.+\.py:[A-Za-z_][A-Za-z0-9_]*$", program):
        function = absolute_target(program, base)
    elif isinstance(program, str) and program.strip():
        script = (base / program).resolve()
        builtin = set(param_names())
        if not script.is_file() and all(p.name.rsplit(".", 1)[-1] in builtin for p in params):
            notes.append(
                f"program {program!r} ignored: it is not next to the sweep file, and every "
                "parameter is a built-in MLP parameter, so sweeplab trains the built-in MLP"
            )
            script = None
        elif not script.is_file():
            raise SpecError(
                f"program must be a script next to the sweep file, but {script} was not found"
            )
        elif "name" not in metric and not any(
            o.startswith("objective.metric=") for o in overrides or []
        ):
            raise SpecError(
                "metric.name is required to run a script: name a value it logs with wandb.log, "
                "in the sweep (metric: {name: val_loss, goal: minimize}) or with "
                "--set objective.metric=val_loss"
            )
    elif program is not None:
        raise SpecError(f"program must be a script or file.py:function, but got {program!r}")
    if et is not None and method == "grid" and function is None and script is None:
        notes.append("early_terminate ignored for the built-in MLP's grid: it runs every point")
    if command is not None and script is None:
        notes.append(
            "command ignored: it is how W&B's agent starts a script, and no script is named"
        )
    study: dict[str, Any] = {"name": _study_name(raw, src), "direction": goal}
    if description:
        study["description"] = description
    extra = raw.get("sweeplab") or {}
    if not isinstance(extra, Mapping):
        raise SpecError(f"sweeplab must be a mapping of study-file sections, but got {extra!r}")
    doc: dict[str, Any]
    if function is not None or script is not None:
        if method == "grid":
            grid = grid_space(raw["parameters"])
            size = math.prod(len(v) for v in grid.values()) if grid else 1
            search["trials"] = min(search.get("trials", size), size)
        objective: dict[str, Any] = {
            "target": function or str(script),
            "kind": "wandb" if function else "script",
            "parameters": dict(raw["parameters"]),
            "metric": metric.get("name"),
        }
        if script is not None:
            objective["workdir"] = str(base)
            if command is not None:
                objective["command"] = [str(c) for c in command]
        doc = {"study": study, "search": search, "objective": objective}
    else:
        doc = _mlp_doc(params, study, search, metric.get("name"))
    if labels:
        doc["track"] = dict(labels)
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
    return out


def _mlp_doc(
    params: list[Param], study: dict[str, Any], search: dict[str, Any], metric: str | None
) -> dict[str, Any]:
    names = set(param_names())
    leaf = {p.name.rsplit(".", 1)[-1]: p for p in params}
    unknown = [n for n in leaf if n not in names]
    if unknown:
        raise SpecError(
            f"parameters {', '.join(unknown)} must be built-in MLP parameters "
            f"({', '.join(sorted(names))}) or the sweep must name its script "
            f"(program: train.py) or a function (program: train.py:train), but got neither"
        )
    if metric is None:
        _log.info("W&B sweep: no metric: the built-in MLP optimizes val_accuracy (maximize)")
    else:
        if metric not in METRICS:
            raise SpecError(
                f"metric.name must be one of {', '.join(METRICS)} for the built-in MLP, "
                f"but got {metric!r}"
            )
        study["objective"] = metric
    baseline: dict[str, Any] = {}
    space: dict[str, Any] = {}
    for name, p in leaf.items():
        if p.dist not in MLP_DISTRIBUTIONS:
            raise SpecError(
                f"parameters.{p.name}.distribution {p.dist!r} cannot drive the built-in MLP "
                f"(it supports {', '.join(sorted(MLP_DISTRIBUTIONS))}); name your script "
                "(program: train.py) or a function (program: train.py:train) to use it"
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
