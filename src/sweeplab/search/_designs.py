"""Designs: explicit lists of trials (grid, one factor at a time, configs)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from sweeplab.search._space import active_names, axis_values, grid_points, is_active
from sweeplab.spec import PLANNED_STRATEGIES, StudySpec

__all__ = ["DESIGN_STRATEGIES", "Point", "design_points"]

DESIGN_STRATEGIES = PLANNED_STRATEGIES
"""Strategies whose trials are planned design points (see ``spec.STRATEGY_TRAITS``)."""


@dataclass(frozen=True)
class Point:
    """One planned trial: overrides of the baseline, and which repeat it is."""

    key: str
    params: dict[str, Any]
    repeat: int = 0
    label: str = ""


def _key(params: dict[str, Any], repeat: int) -> str:
    return json.dumps(params, sort_keys=True) + f"#{repeat}"


def _config_points(spec: StudySpec) -> list[tuple[dict[str, Any], str]]:
    return [
        (active_names(dict(cfg), spec.params), f"config {i}")
        for i, cfg in enumerate(spec.search.configs)
    ]


def design_points(spec: StudySpec) -> list[Point]:
    """Every planned trial of a design study, in run order.

    ``grid`` is the product of the space's values (in an order shuffled by the
    study seed, so a budget smaller than the grid is a random subset);
    ``ofat`` is the baseline, then each factor's values with every other
    parameter at the baseline. Explicit ``[[search.configs]]`` follow. With
    ``study.repeats = R`` each grid point and config runs R times with
    different seeds; in ``ofat`` the baseline runs R times, giving the noise
    band the one-factor effects are read against. For other strategies only
    the explicit configs are planned; the sampler chooses the rest.
    """
    base = spec.params
    repeats = spec.study.repeats
    planned: list[tuple[dict[str, Any], str, int]] = []
    strategy = spec.search.strategy
    if strategy == "grid":
        points = list(grid_points(spec.search.space, base))
        random.Random(spec.study.seed).shuffle(points)
        planned = [(p, "grid", r) for p in points for r in range(repeats)]
    elif strategy == "ofat":
        planned = [({}, "baseline", r) for r in range(repeats)]
        flat = base.flat()
        seen = {_key({}, 0)}
        for name, dim in spec.search.space.items():
            for value in axis_values(name, dim):
                point = {name: value}
                depth = int(point.get("depth", base.depth))
                if not is_active(name, depth):
                    continue
                if name in flat and repr(flat[name]) == repr(value):
                    continue
                if name == "units" and all(
                    repr(flat[f"units{i}"]) == repr(value) for i in range(1, base.depth + 1)
                ):
                    continue
                if _key(point, 0) in seen:
                    continue
                seen.add(_key(point, 0))
                planned.append((point, f"{name}", 0))
    config_repeats = 1 if strategy == "ofat" else repeats
    planned += [(p, label, r) for p, label in _config_points(spec) for r in range(config_repeats)]
    return [Point(key=_key(p, r), params=p, repeat=r, label=label) for p, label, r in planned]
