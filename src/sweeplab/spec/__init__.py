"""The study file: its models, its vocabulary of names, loading and ``--set`` overrides.

A study file is TOML with sections ``study``, ``data``, ``params``, ``search``,
``track`` (and ``model`` or ``objective``). :func:`load_spec` validates it
completely before any work starts, so a mistake costs nothing and is reported
as one line that names the key path, the value and what was expected.
"""

from sweeplab.spec._load import load_spec, parse_overrides, spec_from_dict
from sweeplab.spec._models import (
    DataSpec,
    ModelSpec,
    ObjectiveSpec,
    Range,
    Scalar,
    SearchSpec,
    StudySection,
    StudySpec,
    TrackSpec,
    TrainParams,
    param_names,
)
from sweeplab.spec._names import (
    ACTIVATIONS,
    CATEGORICAL_PARAMS,
    INT_PARAMS,
    MAX_DEPTH,
    MAX_SEED,
    METRIC_NAMES,
    METRICS,
    OPTIMIZERS,
    PLANNED_STRATEGIES,
    SAMPLED_STRATEGIES,
    STRATEGIES,
    STRATEGY_TRAITS,
    StrategyTraits,
)
from sweeplab.spec._objective import (
    directions_of,
    objective_spec,
    resolve_objective,
    with_absolute_target,
)
from sweeplab.spec._targets import absolute_target, load_callable

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
    "DataSpec",
    "ModelSpec",
    "ObjectiveSpec",
    "Range",
    "Scalar",
    "SearchSpec",
    "StrategyTraits",
    "StudySection",
    "StudySpec",
    "TrackSpec",
    "TrainParams",
    "absolute_target",
    "directions_of",
    "load_callable",
    "load_spec",
    "objective_spec",
    "param_names",
    "parse_overrides",
    "resolve_objective",
    "spec_from_dict",
    "with_absolute_target",
]
