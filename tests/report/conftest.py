"""Tiny real studies on iris, built once per session and shared by the report tests."""

from __future__ import annotations

from pathlib import Path

import pytest

import sweeplab
from sweeplab.store import Study
from tests.conftest import make_spec


@pytest.fixture(scope="session")
def report_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("report-runs")


@pytest.fixture(scope="session")
def ofat_study(report_runs: Path) -> Study:
    """One factor at a time around a baseline run 3 times (the noise band)."""
    spec = make_spec(
        "ofat",
        study={"repeats": 3},
        params={"epochs": 4, "units": 8, "lr": 1e-2, "batch_size": 16},
        search={
            "strategy": "ofat",
            "trials": None,
            "space": {"lr": [1e-3, 1e-2, 1e-1], "units": [4, 8, 16], "optimizer": ["sgd", "adam"]},
            "configs": [{"lr": 3e-2, "units": 16}],
        },
    )
    return sweeplab.run(spec, runs_dir=report_runs)


@pytest.fixture(scope="session")
def grid_study(report_runs: Path) -> Study:
    """A full 2×2×2 grid over units, lr and batch size: every pair is covered."""
    spec = make_spec(
        "grid",
        search={
            "strategy": "grid",
            "trials": None,
            "space": {"units": [4, 16], "lr": [1e-3, 3e-2], "batch_size": [8, 32]},
        },
    )
    return sweeplab.run(spec, runs_dir=report_runs)


@pytest.fixture(scope="session")
def pruned_study(report_runs: Path) -> Study:
    """A hyperband search: some trials are pruned."""
    spec = make_spec(
        "hb",
        params={"epochs": 6},
        search={"strategy": "hyperband", "trials": 8, "space": {"lr": [1e-3, 3e-2]}},
    )
    return sweeplab.run(spec, runs_dir=report_runs)


@pytest.fixture(scope="session")
def iris_noise_study(report_runs: Path) -> Study:
    """Six short Iris trials scored on 15 validation samples: the best is inside the noise."""
    spec = make_spec(
        "iris-noise",
        params={"epochs": 5},
        search={
            "strategy": "grid",
            "trials": None,
            "space": {"lr": [3e-3, 1e-2, 3e-2], "units": [4, 16]},
        },
    )
    return sweeplab.run(spec, runs_dir=report_runs)
