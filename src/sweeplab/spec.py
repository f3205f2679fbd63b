"""The study file: pydantic models, loading, ``--set`` overrides and messages.

A study file is TOML with five sections (``study``, ``data``, ``params``,
``search``, ``track``). :func:`load_spec` validates it completely before any
work starts, so a mistake costs nothing and is reported as one line that names
the key path, the value and what was expected.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import tomli_w
import tomllib
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from sweeplab.errors import SpecError

__all__ = [
    "ACTIVATIONS",
    "METRICS",
    "OPTIMIZERS",
    "STRATEGIES",
    "DataSpec",
    "ModelSpec",
    "ObjectiveSpec",
    "Range",
    "SearchSpec",
    "StudySection",
    "StudySpec",
    "TrackSpec",
    "TrainParams",
    "load_spec",
    "parse_overrides",
    "spec_from_dict",
]

ACTIVATIONS = ("relu", "tanh", "gelu", "sigmoid")
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "rmsprop")
STRATEGIES = (
    "grid",
    "random",
    "sobol",
    "tpe",
    "gp",
    "cmaes",
    "hyperband",
    "asha",
    "bohb",
    "ofat",
)
METRICS = (
    "val_accuracy",
    "val_loss",
    "val_f1_macro",
    "val_f1_weighted",
    "val_precision_macro",
    "val_precision_weighted",
    "val_recall_macro",
    "val_recall_weighted",
)
MAX_DEPTH = 8
_UNITS_KEY = re.compile(r"^units([1-9])$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_HERE = "<here>."

Scalar = bool | int | float | str


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class StudySection(_Section):
    """What the study is called, how it is seeded and what it optimizes."""

    name: str
    seed: int = Field(default=0, ge=0, lt=2**63)
    objective: Literal[METRICS] = "val_accuracy"  # type: ignore[valid-type]
    direction: Literal["maximize", "minimize", "auto"] = "auto"
    repeats: int = Field(default=1, ge=1, le=100)
    device: str = "auto"
    dtype: Literal["float32", "float64"] = "float32"
    storage: str | None = None
    backend: Literal["local", "ray"] = "local"
    directions: list[Literal["maximize", "minimize"]] | None = Field(default=None, min_length=1)

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


class DataSpec(_Section):
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


class TrainParams(_Section):
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
                raise ValueError(_unknown_key_message(key, param_names(), prefix=_HERE))
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
INT_PARAMS = frozenset(
    {"depth", "units", "batch_size", "epochs", *(f"units{i}" for i in range(1, MAX_DEPTH + 1))}
)
CATEGORICAL_PARAMS = frozenset({"activation", "optimizer"})


def param_names() -> tuple[str, ...]:
    """Every name a trial parameter may have."""
    return (*_FIELDS, *(f"units{i}" for i in range(1, MAX_DEPTH + 1)))


class Range(_Section):
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


class SearchSpec(_Section):
    """How trials are chosen: a strategy, a budget and a space.

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

    @field_validator("space")
    @classmethod
    def _check_space(cls, value: dict[str, Dimension]) -> dict[str, Dimension]:
        names = param_names()
        for key, dim in value.items():
            if key not in names:
                raise ValueError(_unknown_key_message(key, names, prefix="search.space."))
            if isinstance(dim, list) and not dim:
                raise ValueError(f"search.space.{key} must be a non-empty list, but got []")
            if isinstance(dim, Range) and key in CATEGORICAL_PARAMS:
                raise ValueError(f"search.space.{key} must be a list of choices, but got a range")
        return value


class TrackSpec(_Section):
    """Where trials are logged besides the study directory.

    ``mlflow`` is ``true`` for ``sqlite:///runs/<study>/mlflow.db`` (or
    ``MLFLOW_TRACKING_URI`` when set), or a tracking URI that wins over both.
    ``wandb`` is ``false``, ``"offline"`` (``true`` means offline; no account
    needed, ``wandb sync`` later) or ``"online"``. ``project`` names the W&B
    project and the MLflow experiment; it defaults to the study name.
    """

    tensorboard: bool = True
    mlflow: bool | str = False
    wandb: bool | Literal["offline", "online"] = False
    project: str | None = None
    entity: str | None = None

    @field_validator("mlflow", mode="before")
    @classmethod
    def _check_mlflow(cls, value: Any) -> Any:
        if isinstance(value, bool) or (isinstance(value, str) and value.strip()):
            return value
        raise ValueError("must be true, false or a tracking URI")

    @field_validator("wandb", mode="before")
    @classmethod
    def _check_wandb(cls, value: Any) -> Any:
        if value is True:
            return "offline"
        if value is False or value in ("offline", "online"):
            return value
        raise ValueError('must be false, true, "offline" or "online"')

    @field_validator("project")
    @classmethod
    def _check_project(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or "/" in value):
            raise ValueError("must be a non-empty name without '/'")
        return value


_TARGET = re.compile(r"^[^:]+:[A-Za-z_][A-Za-z0-9_]*$")


class ObjectiveSpec(_Section):
    """A user's own objective: ``objective = "file.py:objective"`` or ``"module:function"``.

    ``kind = "optuna"`` calls ``function(trial)`` unmodified; ``kind = "wandb"``
    calls ``function(config)`` with a config sampled from ``parameters`` (a W&B
    sweep's parameter block) and reads ``metric`` from what it returns.
    """

    target: str
    kind: Literal["optuna", "wandb"] = "optuna"
    parameters: dict[str, Any] = Field(default_factory=dict)
    metric: str | None = None

    @field_validator("target")
    @classmethod
    def _check_target(cls, value: str) -> str:
        if not _TARGET.match(value):
            raise ValueError("must be 'path/to/file.py:function' or 'module:function'")
        return value


class ModelSpec(_Section):
    """A custom model: ``factory = "module:function"`` returns an ``nn.Module`` for a config."""

    factory: str | None = None

    @field_validator("factory")
    @classmethod
    def _check_factory(cls, value: str | None) -> str | None:
        if value is not None and not _TARGET.match(value):
            raise ValueError("must be 'path/to/file.py:function' or 'module:function'")
        return value


class StudySpec(_Section):
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
        if self.search.strategy in ("grid", "ofat") and any(
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
                raise ValueError(_first_error(exc, prefix=path, drop_loc=True)) from None
        if isinstance(dim, list) and len(set(map(repr, dim))) != len(dim):
            raise ValueError(f"search.space.{key} must not repeat values, but got {dim!r}")
    for i, cfg in enumerate(spec.search.configs):
        try:
            TrainParams.model_validate({**base, **cfg})
        except ValidationError as exc:
            raise ValueError(_first_error(exc, prefix=f"search.configs[{i}]")) from None


def _unknown_key_message(key: str, known: Iterable[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f"; did you mean '{prefix}{close[0]}'?" if close else ""
    return f"{prefix}{key} is not a known key{hint}"


_EXPECT = {
    "greater_than": "> {gt}",
    "greater_than_equal": ">= {ge}",
    "less_than": "< {lt}",
    "less_than_equal": "<= {le}",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "too_short": "a list of {min_length}",
    "too_long": "a list of at most {max_length}",
}


def _loc_path(loc: Sequence[int | str], prefix: str) -> str:
    parts: list[str] = [prefix] if prefix else []
    for item in loc:
        if isinstance(item, int):
            if parts:
                parts[-1] += f"[{item}]"
            else:
                parts.append(f"[{item}]")
        elif item in ("list[union[bool,int,float,str]]", "Range") or item.startswith(
            ("list[", "function-")
        ):
            continue
        else:
            parts.append(item)
    return ".".join(parts)


def _first_error(exc: ValidationError, prefix: str = "", drop_loc: bool = False) -> str:
    errors = exc.errors()
    # Prefer the most specific error: union branches produce one error each.
    err = max(errors, key=lambda e: len(e["loc"]))
    if any(e["type"] == "extra_forbidden" for e in errors):
        err = next(e for e in errors if e["type"] == "extra_forbidden")
    path = prefix if drop_loc else _loc_path(err["loc"], prefix)
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx", {}) or {}
    if kind == "extra_forbidden":
        loc = list(err["loc"])
        section = _loc_path(loc[:-1], prefix)
        known = _known_keys(loc[:-1])
        return _unknown_key_message(str(loc[-1]), known, prefix=f"{section}." if section else "")
    if kind == "missing":
        return f"{path} is required"
    if kind == "value_error":
        msg = str(ctx.get("error", err["msg"]))
        if _HERE in msg:
            return msg.replace(_HERE, f"{path}." if path else "")
        if msg.startswith(("search.", "data.", "params.", "study.")):
            return msg
        if " is not a known key" in msg or msg.startswith(
            ("high must", "low must", "step ", "units")
        ):
            return f"{path}.{msg}" if path else msg
        return f"{path} {msg}, but got {_show(value)}"
    where = tuple(err["loc"])
    if len(where) >= 3 and where[:2] == ("search", "space") and kind.endswith("_type"):
        return (
            f"search.space.{where[2]} must be a list of values or a range like "
            f"{{ low = 1, high = 10 }}, but got {_show(value)}"
        )
    if kind == "literal_error":
        return f"{path} must be {ctx.get('expected', '')}, but got {_show(value)}"
    if kind in _EXPECT:
        return f"{path} must be {_EXPECT[kind].format(**ctx)}, but got {_show(value)}"
    return f"{path}: {err['msg']}, but got {_show(value)}"


def _known_keys(loc: Sequence[int | str]) -> tuple[str, ...]:
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


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """Turn ``["search.trials=3", "params.lr=1e-2"]`` into a nested dict.

    Values are read as TOML (numbers, booleans, lists, inline tables) and fall
    back to plain strings, so ``--set data.dataset=wine`` needs no quotes.
    """
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise SpecError(f"--set must be key=value, but got {item!r}")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$", key):
            raise SpecError(f"--set key must be a dotted path like search.trials, but got {key!r}")
        try:
            value: Any = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw.strip()
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise SpecError(f"--set {key} conflicts with another --set")
        node[leaf] = value
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def spec_from_dict(raw: Mapping[str, Any], overrides: Iterable[str] = ()) -> StudySpec:
    """Validate a parsed study file (plus overrides) into a :class:`StudySpec`."""
    merged = _merge(dict(raw), parse_overrides(overrides))
    if "study" not in merged:
        raise SpecError('study is required: add a [study] table with at least name = "..."')
    try:
        return StudySpec.model_validate(merged)
    except ValidationError as exc:
        raise SpecError(_first_error(exc)) from None


def load_spec(path: str | Path, overrides: Iterable[str] = ()) -> StudySpec:
    """Read and validate a study file.

    Args:
        path: a TOML study file.
        overrides: ``key=value`` strings applied on top of the file, as with
            ``sweeplab run FILE --set search.trials=3``.

    Raises:
        SpecError: the file is missing, is not TOML, or is not a valid study.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"study file must exist, but {str(path)!r} was not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"study file {str(path)!r} cannot be read: {exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path} is not valid TOML: {exc}") from None
    return spec_from_dict(raw, overrides)
