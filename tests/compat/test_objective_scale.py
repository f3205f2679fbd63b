"""Objective studies run through the one study loop: workers, Ray and trackers included."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sweeplab.spec import objective_spec
from sweeplab.study import run

OBJECTIVES = Path(__file__).parent / "objectives"
SRC = str(Path(__file__).parents[2] / "src")


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "sweeplab", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _check_objective_records(root: Path, budget: int) -> list[dict[str, object]]:
    records = [json.loads(p.read_text()) for p in sorted(root.glob("trials/*/record.json"))]
    assert len(records) == budget
    for r in records:
        assert set(r["params"]) == {"x"}, "the objective's own parameters, not the MLP's"
        assert r["state"] == "complete"
        assert r["objective"] == pytest.approx((r["params"]["x"] - 2) ** 2)
    with (root / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == budget
    assert "units1" not in rows[0]
    assert "lr" not in rows[0]
    return records


@pytest.mark.slow
def test_objective_with_two_workers_calls_the_objective(tmp_path: Path) -> None:
    target = f"{OBJECTIVES / 'quadratic.py'}:objective"
    args = ["run", "--objective", target, "--workers", "2", "--set", "search.trials=16", "-q"]
    done = _cli(tmp_path, *args)
    assert done.returncode == 0, done.stderr
    records = _check_objective_records(tmp_path / "runs" / "quadratic", budget=16)
    assert len({r["number"] for r in records}) == 16


def test_objective_with_mlflow_tracking(runs: Path) -> None:
    from mlflow.tracking import MlflowClient

    spec = objective_spec(
        f"{OBJECTIVES / 'quadratic.py'}:objective",
        overrides=["search.trials=3", "track.mlflow=true", "track.tensorboard=false"],
    )
    study = run(spec, runs_dir=runs)
    client = MlflowClient(tracking_uri=f"sqlite:///{study.dir.root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("quadratic")
    assert experiment is not None
    trials = [
        r
        for r in client.search_runs([experiment.experiment_id])
        if r.data.tags.get("sweeplab.trial") is not None
    ]
    records = {r.number: r for r in study.records()}
    assert {int(r.data.tags["sweeplab.trial"]) for r in trials} == set(records)
    for r in trials:
        record = records[int(r.data.tags["sweeplab.trial"])]
        assert r.data.params["x"] == str(record.params["x"])
        assert r.data.metrics["objective"] == pytest.approx(record.objective)
        assert r.info.status == "FINISHED"
