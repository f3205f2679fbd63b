"""Study files whose trials call the user's code: ``objective`` specs and their defaults."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from sweeplab.errors import SpecError
from sweeplab.spec._load import spec_from_dict
from sweeplab.spec._models import StudySpec
from sweeplab.spec._names import PLANNED_STRATEGIES, SAMPLED_STRATEGIES, STRATEGY_TRAITS
from sweeplab.spec._targets import absolute_target

__all__ = ["directions_of", "objective_spec", "resolve_objective", "with_absolute_target"]


def directions_of(spec: StudySpec) -> list[Literal["maximize", "minimize"]]:
    """The study's directions: ``study.directions``, else the single ``study.direction``."""
    if spec.study.directions:
        return list(spec.study.directions)
    return [spec.direction]


def objective_spec(
    target: str, *, name: str | None = None, overrides: Sequence[str] = (), base: str | None = None
) -> StudySpec:
    """A study spec for ``sweeplab run --objective file.py:objective``.

    Unless set, the study is named after the objective's file or function, uses
    TPE and minimizes, as ``optuna.create_study`` does by default.
    """
    module, _, attr = target.rpartition(":")
    stem = Path(module).stem if module.endswith(".py") else attr
    default = "".join(c if c.isalnum() or c in "_-" else "-" for c in stem.lower()) or "objective"
    raw: dict[str, Any] = {
        "study": {"name": name or default, "direction": "minimize"},
        "search": {"strategy": "tpe"},
        "objective": {"target": absolute_target(target, base or Path.cwd())},
    }
    return with_absolute_target(spec_from_dict(raw, overrides), base or Path.cwd())


def with_absolute_target(spec: StudySpec, base_dir: str | Path) -> StudySpec:
    """``spec`` with relative objective and model factory files made absolute."""
    if spec.objective is not None and spec.objective.kind == "script":
        # A script runs in its workdir (default: the study file's directory), as
        # ``wandb agent`` runs it in the directory it was started from.
        workdir = Path(base_dir, spec.objective.workdir or ".").resolve()
        script = Path(workdir, spec.objective.target).resolve()
        if (str(script), str(workdir)) != (spec.objective.target, spec.objective.workdir):
            spec = spec.model_copy(deep=True)
            assert spec.objective is not None
            spec.objective.target, spec.objective.workdir = str(script), str(workdir)
    elif spec.objective is not None:
        target = absolute_target(spec.objective.target, base_dir)
        if target != spec.objective.target:
            spec = spec.model_copy(deep=True)
            assert spec.objective is not None
            spec.objective.target = target
    constraints = spec.search.constraints
    if constraints is not None and not constraints.startswith("user_attrs."):
        target = absolute_target(constraints, base_dir)
        if target != constraints:
            spec = spec.model_copy(deep=True)
            spec.search.constraints = target
    if spec.model.factory is not None:
        factory = absolute_target(spec.model.factory, base_dir)
        if factory != spec.model.factory:
            spec = spec.model_copy(deep=True)
            spec.model.factory = factory
    return spec


def resolve_objective(spec: StudySpec) -> StudySpec:
    """Objective studies minimize by default (as Optuna does); write it out."""
    if spec.objective is None:
        raise SpecError("objective must be set for an objective study, but got none")
    kind = spec.objective.kind
    if spec.study.direction == "auto" and not spec.study.directions:
        spec = spec.model_copy(deep=True)
        spec.study.direction = "minimize"
    if spec.search.strategy in PLANNED_STRATEGIES and kind == "optuna":
        raise SpecError(
            f"search.strategy must be a sampler ({', '.join(SAMPLED_STRATEGIES)}) "
            f"for an Optuna objective, but got {spec.search.strategy!r}: the objective "
            "defines its own space"
        )
    if spec.study.directions and not STRATEGY_TRAITS[spec.search.strategy].multi_objective:
        able = ", ".join(k for k, t in STRATEGY_TRAITS.items() if t.multi_objective)
        raise SpecError(
            f"search.strategy must be one of {able} for a multi-objective study, "
            f"but got {spec.search.strategy!r}"
        )
    return spec
