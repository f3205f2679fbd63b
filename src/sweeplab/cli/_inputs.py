"""What ``sweeplab run`` was given: a study file, a W&B sweep file, or ``--objective``."""

from __future__ import annotations

from pathlib import Path

from sweeplab.errors import SpecError
from sweeplab.spec import StudySpec, load_spec, objective_spec, with_absolute_target

__all__ = ["SWEEP_SUFFIXES", "load_any"]

SWEEP_SUFFIXES = (".yaml", ".yml")


def load_any(
    study_file: Path | None, objective: str | None, overrides: list[str]
) -> tuple[StudySpec, list[str]]:
    """The spec of a study file, a W&B sweep file or ``--objective``; plus notes to show."""
    if objective is not None:
        if study_file is not None:
            raise SpecError(
                f"--objective must be used without a study file, but got {str(study_file)!r}"
            )
        return objective_spec(objective, overrides=overrides), []
    if study_file is None:
        raise SpecError(
            "a study file, a W&B sweep file or --objective file.py:function is required"
        )
    if study_file.suffix.lower() in SWEEP_SUFFIXES:
        from sweeplab.compat import load_sweep, sweep_spec  # only W&B sweep files need it

        return sweep_spec(load_sweep(study_file), path=study_file, overrides=overrides)
    return with_absolute_target(load_spec(study_file, overrides), study_file.parent), []
