"""The base of every study-file section, and the sections for tracking and the user's code.

``[track]`` picks trackers; ``[objective]`` names a user's objective (Optuna or
W&B ``train``); ``[model] factory`` names a user's ``nn.Module`` factory.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["ModelSpec", "ObjectiveSpec", "Section", "TrackSpec"]


class Section(BaseModel):
    """A study-file table: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class TrackSpec(Section):
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


class ObjectiveSpec(Section):
    """A user's own objective: ``objective = "file.py:objective"`` or ``"module:function"``.

    ``kind = "optuna"`` calls ``function(trial)`` unmodified; ``kind = "wandb"``
    calls ``function(config)`` with a config sampled from ``parameters`` (a W&B
    sweep's parameter block) and reads ``metric`` from what it returns;
    ``kind = "script"`` runs the script ``target`` as W&B's sweep agent does
    (``command``, its macros and the sweep-parameter file; in ``workdir``) and
    reads ``metric`` from the offline run's own history.
    """

    target: str
    kind: Literal["optuna", "wandb", "script"] = "optuna"
    parameters: dict[str, Any] = Field(default_factory=dict)
    metric: str | None = None
    command: list[str] | None = None
    workdir: str | None = None

    @model_validator(mode="after")
    def _check_target(self) -> ObjectiveSpec:
        if self.kind == "script":
            if not self.target.strip():
                raise ValueError("objective.target must name the script to run, but got ''")
            if self.metric is None:
                raise ValueError(
                    "objective.metric must name a value the script logs with wandb.log (a W&B "
                    "sweep's metric.name, or --set objective.metric=val_loss), but got none"
                )
        elif not _TARGET.match(self.target):
            raise ValueError(
                "objective.target must be 'path/to/file.py:function' or 'module:function'"
            )
        elif self.command is not None:
            raise ValueError("objective.command is only for kind = 'script'")
        return self


class ModelSpec(Section):
    """A custom model: ``factory = "module:function"`` returns an ``nn.Module`` for a config."""

    factory: str | None = None

    @field_validator("factory")
    @classmethod
    def _check_factory(cls, value: str | None) -> str | None:
        if value is not None and not _TARGET.match(value):
            raise ValueError("must be 'path/to/file.py:function' or 'module:function'")
        return value
