"""Search spaces: the study file's ``[search.space]`` as Optuna distributions.

A space maps parameter names to a list of values or a numeric range. Per-layer
widths ``units1`` .. ``unitsN`` are conditional: ``units3`` exists only in
trials whose ``depth`` is at least 3, so samplers never waste trials on
parameters that do not change the model.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from sweeplab.spec import INT_PARAMS, Range, Scalar, TrainParams

__all__ = [
    "active_names",
    "axis_values",
    "distributions",
    "grid_points",
    "is_active",
    "layer_index",
    "ordered",
    "suggest",
]

_LAYER = re.compile(r"^units([1-9])$")

Space = Mapping[str, Range | list[Scalar]]


def layer_index(name: str) -> int | None:
    """``3`` for ``units3``, ``None`` for parameters that are not per-layer."""
    match = _LAYER.match(name)
    return int(match.group(1)) if match else None


def is_active(name: str, depth: int) -> bool:
    """Whether parameter ``name`` affects a model of ``depth`` hidden layers."""
    layer = layer_index(name)
    return layer is None or layer <= depth


def ordered(space: Space) -> list[str]:
    """Names with ``depth`` first, since other parameters depend on it."""
    return sorted(space, key=lambda k: (k != "depth", list(space).index(k)))


def distributions(space: Space) -> dict[str, BaseDistribution]:
    """The Optuna distribution of every dimension."""
    out: dict[str, BaseDistribution] = {}
    for name, dim in space.items():
        if isinstance(dim, Range):
            if name in INT_PARAMS:
                out[name] = IntDistribution(
                    int(dim.low), int(dim.high), log=dim.log, step=int(dim.step or 1)
                )
            else:
                out[name] = FloatDistribution(dim.low, dim.high, log=dim.log, step=dim.step)
        else:
            out[name] = CategoricalDistribution(list(dim))
    return out


def suggest(trial: optuna.Trial, space: Space, baseline: TrainParams) -> dict[str, Any]:
    """Sample the space through ``trial``, skipping layers deeper than the depth."""
    dists = distributions(space)
    chosen: dict[str, Any] = {}
    for name in ordered(space):
        depth = int(chosen.get("depth", baseline.depth))
        if not is_active(name, depth):
            continue
        dist = dists[name]
        if isinstance(dist, CategoricalDistribution):
            chosen[name] = trial.suggest_categorical(name, dist.choices)
        elif isinstance(dist, IntDistribution):
            chosen[name] = trial.suggest_int(
                name, dist.low, dist.high, step=dist.step, log=dist.log
            )
        else:
            assert isinstance(dist, FloatDistribution)
            chosen[name] = trial.suggest_float(
                name, dist.low, dist.high, step=dist.step, log=dist.log
            )
    return chosen


def _values(name: str, dim: Range | list[Scalar]) -> list[Scalar]:
    if isinstance(dim, list):
        return list(dim)
    step = dim.step or 1
    values = np.arange(dim.low, dim.high + step / 2, step)
    if name in INT_PARAMS:
        return [round(v) for v in values]
    return [float(v) for v in values]


def active_names(point: Mapping[str, Any], baseline: TrainParams) -> dict[str, Any]:
    """``point`` without the per-layer widths its depth does not use."""
    depth = int(point.get("depth", baseline.depth))
    return {k: v for k, v in point.items() if is_active(k, depth)}


def grid_points(space: Space, baseline: TrainParams) -> Iterator[dict[str, Any]]:
    """Every distinct combination of the space's values, in product order.

    Combinations that differ only in layers beyond their depth are the same
    model and are yielded once.
    """
    names = ordered(space)
    seen: set[tuple[tuple[str, str], ...]] = set()
    for combo in itertools.product(*(_values(n, space[n]) for n in names)):
        point = active_names(dict(zip(names, combo, strict=True)), baseline)
        key = tuple(sorted((k, repr(v)) for k, v in point.items()))
        if key not in seen:
            seen.add(key)
            yield point


def axis_values(name: str, dim: Range | list[Scalar]) -> list[Scalar]:
    """The values a grid or one-factor design visits for ``name``."""
    return _values(name, dim)
