"""The analysis view of a study: one row per finished trial and the factors it varied."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from sweeplab.spec import StudySpec
from sweeplab.store import TrialRecord

__all__ = ["CATEGORICAL", "StudyFrame", "study_frame"]

CATEGORICAL = frozenset({"activation", "optimizer"})


@dataclass(frozen=True)
class StudyFrame:
    """Complete trials as a table plus what the design varied.

    ``frame`` has one row per complete trial with its parameters, ``metric``
    (the search objective, a validation metric), ``test_*`` metrics,
    ``epochs_trained``, ``train_steps``, ``duration_s`` and ``label``.
    ``factors`` are the parameters that take more than one value, sorted.
    """

    frame: pd.DataFrame
    factors: tuple[str, ...]
    metric: str
    maximize: bool
    design: str

    def rows_for(self, factor: str) -> pd.DataFrame:
        """The trials that inform ``factor``: for ofat its own trials and the baseline."""
        if self.design == "ofat":
            keep = self.frame["label"].isin([factor, "baseline"])
            return self.frame[keep]
        return self.frame

    def is_numeric(self, factor: str) -> bool:
        return factor not in CATEGORICAL and bool(pd.api.types.is_numeric_dtype(self.frame[factor]))


def _row(r: TrialRecord) -> dict[str, Any]:
    row: dict[str, Any] = dict(r.params)
    row.update(
        trial=r.number,
        label=r.label,
        metric=float(r.objective) if r.objective is not None else float("nan"),
        epochs_trained=r.epochs_trained,
        train_steps=r.train_steps,
        duration_s=r.duration_s,
    )
    for key, value in (r.test or {}).items():
        row[f"test_{key}"] = value
    for key, value in (r.val or {}).items():
        row[f"val_{key}"] = value
    return row


def study_frame(spec: StudySpec, records: list[TrialRecord]) -> StudyFrame:
    """Build the analysis table from a study's records (complete trials only)."""
    done = sorted(
        (r for r in records if r.state == "complete" and r.objective is not None),
        key=lambda r: r.number,
    )
    frame = pd.DataFrame([_row(r) for r in done])
    searched = list(spec.search.space)
    for cfg in spec.search.configs:
        searched += [k for k in cfg if k not in searched]
    factors: list[str] = []
    if not frame.empty:
        for name in sorted(set(searched)):
            if name in frame.columns and frame[name].dropna().nunique() > 1:
                factors.append(name)
    design = "ofat" if spec.search.strategy == "ofat" else spec.search.strategy
    return StudyFrame(
        frame=frame,
        factors=tuple(factors),
        metric=spec.study.objective,
        maximize=spec.direction == "maximize",
        design=design,
    )
