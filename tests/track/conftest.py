"""One small study logged to every tracker, shared by the read-back tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import sweeplab
from sweeplab.store import Study
from tests.conftest import make_spec


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Study]:
    """A 3-trial iris study (2, 3 and 4 epochs) logged to TensorBoard, MLflow and W&B."""
    runs = tmp_path_factory.mktemp("runs")
    saved = os.environ.pop("MLFLOW_TRACKING_URI", None)
    spec = make_spec(
        "tracked",
        search={
            "strategy": "grid",
            "space": {"epochs": [2, 3, 4]},
            "trials": 3,
        },
        track={"tensorboard": True, "mlflow": True, "wandb": "offline"},
    )
    try:
        yield sweeplab.run(spec, runs_dir=runs)
    finally:
        if saved is not None:
            os.environ["MLFLOW_TRACKING_URI"] = saved


def curves(study: Study, number: int) -> pd.DataFrame:
    """The trial's stored per-epoch curves, the reference for every tracker."""
    return pd.read_csv(study.dir.trial(number) / "curves.csv")


def root_of(study: Study) -> Path:
    return study.dir.root
