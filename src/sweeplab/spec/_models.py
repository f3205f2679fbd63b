"""The study file as pydantic models, validated completely before any work.

A study file is TOML with five sections (``study``, ``data``, ``params``,
``search``, ``track``). :func:`load_spec` validates it completely before any
work starts, so a mistake costs nothing and is reported as one line that names
the key path, the value and what was expected.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, Literal

import tomli_w
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from sweeplab.spec._messages import HERE, first_error, unknown_key_message
from sweeplab.spec._names import (
    ACTIVATIONS,
    CATEGORICAL_PARAMS,
    INT_PARAMS,
    MAX_DEPTH,
    MAX_SEED,
    METRICS,
    OPTIMIZERS,
    PLANNED_STRATEGIES,
    STRATEGIES,
)
from sweeplab.spec._section import ModelSpec, ObjectiveSpec, Section, TrackSpec

__all__ = [
    "DataSpec",
    "ModelSpec",
    "ObjectiveSpec",
    "Range",
    "SearchSpec",
    "StudySection",
    "StudySpec",
    "TrackSpec",
    "TrainParams",
    "known_keys",
    "param_names",
]

_UNITS_KEY = re.compile(r"^units([1-9])$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_CONSTRAINTS = re.compile(r"^([^:]+:[A-Za-z_][A-Za-z0-9_]*|user_attrs\.[^.\s]+)$")

Scalar = bool | int | float | str


class StudySection(Section):
    """What the study is called, how it is seeded and what it optimizes."""

    name: str
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    objective: Literal[METRICS] = "val_accuracy"  # type: ignore[valid-type]
    direction: Literal["maximize", "minimize", "auto"] = "auto"
    repeats: int = Field(default=1, ge=1, le=100)
    device: str = "auto"
    dtype: Literal["float32", "float64", "bfloat16"] = "float32"
    storage: str | None = None
    backend: Literal["local", "ray"] = "local"
    directions: list[Literal["maximize", "minimize"]] | None = Field(default=None, min_length=1)
    description: str | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "must be 1-64 characters of a-z, 0-9, '_' or '-', starting with a letter or digit"
            )
        return value

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        if not re.match(r"^(auto|cpu|cuda|cuda:\d+|mps)$", value):
            raise ValueError("must be one of auto, cpu, cuda, cuda:N, mps")
        return value

    @field_validator("storage")
    @classmethod
    def _check_storage(cls, value: str | None) -> str | None:
        if value is not None and "://" not in value:
            raise ValueError("must be an RDB URL such as postgresql://user@host/db")
        return value

    @property
    def resolved_direction(self) -> Literal["maximize", "minimize"]:
        """``minimize`` for losses, ``maximize`` otherwise, unless set explicitly."""
        if self.direction != "auto":
            return self.direction
        return "minimize" if self.objective.endswith("_loss") else "maximize"


class DataSpec(Section):
    """Which data to train on and how to split and scale it.

    ``cv = k`` scores every trial by stratified k-fold cross-validation on
    train+val (test stays held out); ``split_repeats = n`` repeats that k-fold
    n times with fresh shuffles, or, without ``cv``, draws n random stratified
    train/val splits of the ``split`` proportions. Each fold is one more member
    of the trial's fused group.
    """

    dataset: str = "iris"
    path: str | None = None
    target: str | None = None
    split: list[float] = Field(default_factory=lambda: [0.7, 0.1, 0.2])
    scale: Literal["minmax", "standard", "none"] = "minmax"
    max_samples: int | None = Field(default=None, ge=10)
    cache_dir: str | None = None
    cv: int | None = Field(default=None, ge=2, le=50)
    split_repeats: int | None = Field(default=None, ge=1, le=100)

    @field_validator("split")
    @classmethod
    def _check_split(cls, value: list[float]) -> list[float]:
        if (
            len(value) != 3
            or any(not math.isfinite(v) or v <= 0 for v in value)
            or abs(sum(value) - 1) > 1e-6
        ):
            raise ValueError("must be three fractions > 0 that sum to 1")
        return value

    @model_validator(mode="after")
    def _check_tabular(self) -> DataSpec:
        if self.dataset in ("csv", "parquet"):
            if self.path is None:
                raise ValueError(f"data.path is required for dataset {self.dataset!r}")
            if self.target is None:
                raise ValueError(f"data.target is required for dataset {self.dataset!r}")
        return self


class TrainParams(Section):
    """One trial's training configuration; ``[params]`` is the study's baseline.

    ``units`` is the width of every hidden layer; ``units1`` .. ``units8`` set
    single layers and win over ``units``.
    """

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    depth: int = Field(default=1, ge=1, le=MAX_DEPTH)
    units: int = Field(default=16, ge=1, le=65536)
    activation: Literal[ACTIVATIONS] = "relu"  # type: ignore[valid-type]
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    optimizer: Literal[OPTIMIZERS] = "adam"  # type: ignore[valid-type]
    lr: float = Field(default=1e-3, gt=0.0, le=100.0)
    weight_decay: float = Field(default=0.0, ge=0.0, le=10.0)
    momentum: float = Field(default=0.9, ge=0.0, lt=1.0)
    beta1: float = Field(default=0.9, ge=0.0, lt=1.0)
    beta2: float = Field(default=0.999, ge=0.0, lt=1.0)
    batch_size: int = Field(default=32, ge=1, le=1_000_000)
    epochs: int = Field(default=50, ge=1, le=100_000)

    @model_validator(mode="after")
    def _check_extra(self) -> TrainParams:
        for key, value in (self.model_extra or {}).items():
            if not _UNITS_KEY.match(key):
                raise ValueError(unknown_key_message(key, param_names(), prefix=HERE))
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65536:
                raise ValueError(f"{key} must be an integer in [1, 65536], but got {value!r}")
        return self

    def layer_units(self) -> tuple[int, ...]:
        """The width of each hidden layer, ``depth`` of them."""
        extra = self.model_extra or {}
        return tuple(int(extra.get(f"units{i}", self.units)) for i in range(1, self.depth + 1))

    def flat(self) -> dict[str, Scalar]:
        """Every parameter as a flat dict, ``units1`` .. ``unitsN`` resolved."""
        out: dict[str, Scalar] = {k: v for k, v in self.model_dump().items() if k in _FIELDS}
        for i, width in enumerate(self.layer_units(), start=1):
            out[f"units{i}"] = width
        return out


_FIELDS = tuple(TrainParams.model_fields)


def param_names() -> tuple[str, ...]:
    """Every name a trial parameter may have."""
    return (*_FIELDS, *(f"units{i}" for i in range(1, MAX_DEPTH + 1)))


class Range(Section):
    """A numeric range to sample from: ``{ low = 1e-5, high = 1e-1, log = true }``."""

    low: float
    high: float
    log: bool = False
    step: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check(self) -> Range:
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError("low and high must be finite numbers")
        if self.high <= self.low:
            raise ValueError(f"high must be > low ({self.low}), but got {self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"low must be > 0 when log = true, but got {self.low}")
        if self.log and self.step is not None:
            raise ValueError("step cannot be used with log = true")
        return self


Dimension = Range | list[Scalar]


class SearchSpec(Section):
    """How trials are chosen: a strategy, a budget and a space.

    ``timeout`` (seconds, as Optuna's ``timeout``) stops starting new trials once
    it has passed; the batch in flight finishes and every finished trial is kept.
    ``confirm_top = K`` re-trains the K best configs after the search on fresh
    folds and seeds (``confirm_repeats`` of them) and picks the winner from
    those scores, so the winner is not the luckiest draw of the search.
    """

    strategy: Literal[STRATEGIES] = "random"  # type: ignore[valid-type]
    trials: int | None = Field(default=None, ge=1, le=1_000_000)
    space: dict[str, Dimension] = Field(default_factory=dict)
    configs: list[dict[str, Scalar]] = Field(default_factory=list)
    group_size: int | None = Field(default=None, ge=1, le=4096)
    min_resource: int | None = Field(default=None, ge=1)
    reduction_factor: int | None = Field(default=None, ge=2)
    confirm_top: int | None = Field(default=None, ge=1, le=1000)
    confirm_repeats: int | None = Field(default=None, ge=1, le=100)
    timeout: float | None = Field(default=None, gt=0)
    constraints: str | None = None
    """Optuna constraints: ``"file.py:function"`` (``function(frozen_trial)`` returns
    values that are all <= 0 when the trial is feasible, as Optuna's
    ``constraints_func``) or ``"user_attrs.<name>"`` (the values the objective
    stored with ``trial.set_user_attr(name, ...)``). They are set on each trial
    as ``Trial.set_constraint`` does, so every sampler that uses constraints
    (TPE, GP) steers by them and the best trial is the best feasible."""

    @field_validator("constraints")
    @classmethod
    def _check_constraints(cls, value: str | None) -> str | None:
        if value is not None and not _CONSTRAINTS.match(value):
            raise ValueError("must be 'path/to/file.py:function' or 'user_attrs.<name>'")
        return value

    @field_validator("space")
    @classmethod
    def _check_space(cls, value: dict[str, Dimension]) -> dict[str, Dimension]:
        names = param_names()
        for key, dim in value.items():
            if key not in names:
                raise ValueError(unknown_key_message(key, names, prefix="search.space."))
            if isinstance(dim, list) and not dim:
                raise ValueError(f"search.space.{key} must be a non-empty list, but got []")
            if isinstance(dim, Range) and key in CATEGORICAL_PARAMS:
                raise ValueError(f"search.space.{key} must be a list of choices, but got a range")
        return value


class StudySpec(Section):
    """A whole, validated study file with every default filled in."""

    study: StudySection
    data: DataSpec = Field(default_factory=DataSpec)
    params: TrainParams = Field(default_factory=TrainParams)
    search: SearchSpec = Field(default_factory=SearchSpec)
    track: TrackSpec = Field(default_factory=TrackSpec)
    objective: ObjectiveSpec | None = None
    model: ModelSpec = Field(default_factory=ModelSpec)

    @field_validator("objective", mode="before")
    @classmethod
    def _objective_string(cls, value: Any) -> Any:
        return {"target": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_cross(self) -> StudySpec:
        _check_space_values(self)
        if self.search.strategy in PLANNED_STRATEGIES and any(
            isinstance(d, Range) and d.step is None and not _is_int_range(k, d)
            for k, d in self.search.space.items()
        ):
            bad = next(
                k
                for k, d in self.search.space.items()
                if isinstance(d, Range) and d.step is None and not _is_int_range(k, d)
            )
            raise ValueError(
                f"search.space.{bad} must be a list of values or a range with a step "
                f"for strategy {self.search.strategy!r}, but got a continuous range"
            )
        if self.search.strategy == "ofat" and not self.search.space and not self.search.configs:
            raise ValueError("search.space must name at least one factor for strategy 'ofat'")
        if self.study.dtype == "bfloat16" and (self.model.factory or self.objective):
            raise ValueError(
                "study.dtype = 'bfloat16' must be used with the built-in MLP, but the study "
                "trains " + ("model.factory" if self.model.factory else "an objective")
            )
        return self

    def to_toml(self) -> str:
        """The resolved study file, every default written out."""
        data = self.model_dump(mode="json", exclude_none=True)
        data["params"] = {**data["params"]}
        return tomli_w.dumps(data)

    @property
    def direction(self) -> Literal["maximize", "minimize"]:
        return self.study.resolved_direction


def _is_int_range(key: str, dim: Range) -> bool:
    return key in INT_PARAMS and float(dim.low).is_integer() and float(dim.high).is_integer()


def _check_space_values(spec: StudySpec) -> None:
    """Each searched value must be a valid value of its parameter."""
    base = spec.params.model_dump()
    for key, dim in spec.search.space.items():
        candidates: list[tuple[str, Any]]
        if isinstance(dim, Range):
            candidates = [("low", dim.low), ("high", dim.high)]
            if key in INT_PARAMS:
                for name, v in candidates:
                    if not float(v).is_integer():
                        raise ValueError(
                            f"search.space.{key}.{name} must be an integer, but got {v!r}"
                        )
                candidates = [(n, int(v)) for n, v in candidates]
        else:
            candidates = [(f"[{i}]", v) for i, v in enumerate(dim)]
        for where, v in candidates:
            sep = "" if where.startswith("[") else "."
            path = f"search.space.{key}{sep}{where}"
            if isinstance(v, bool) or (key in INT_PARAMS and isinstance(v, float)):
                raise ValueError(f"{path} must be an integer, but got {v!r}")
            try:
                TrainParams.model_validate({**base, key: v})
            except ValidationError as exc:
                raise ValueError(first_error(exc, known_keys, prefix=path, drop_loc=True)) from None
        if isinstance(dim, list) and len(set(map(repr, dim))) != len(dim):
            raise ValueError(f"search.space.{key} must not repeat values, but got {dim!r}")
    for i, cfg in enumerate(spec.search.configs):
        try:
            TrainParams.model_validate({**base, **cfg})
        except ValidationError as exc:
            raise ValueError(first_error(exc, known_keys, prefix=f"search.configs[{i}]")) from None


def known_keys(loc: Sequence[int | str]) -> tuple[str, ...]:
    model: type[BaseModel] = StudySpec
    for item in loc:
        field = model.model_fields.get(str(item))
        ann = getattr(field, "annotation", None) if field else None
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        elif str(item) == "space" or (isinstance(item, str) and model is SearchSpec):
            return tuple(Range.model_fields)
    if model is TrainParams:
        return param_names()
    return tuple(model.model_fields)
