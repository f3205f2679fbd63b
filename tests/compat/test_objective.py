"""Unmodified Optuna objectives (in the style of Optuna's examples) run as sweeplab studies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
from typer.testing import CliRunner

from sweeplab.analysis import pareto_front
from sweeplab.cli import app
from sweeplab.errors import SpecError
from sweeplab.spec import objective_spec
from sweeplab.store import load_study
from sweeplab.study import run as run_objective

HERE = Path(__file__).parent
OBJECTIVES = HERE / "objectives"


def _spec(target: str, *extra: str) -> object:
    return objective_spec(str(OBJECTIVES / target), overrides=["track.tensorboard=false", *extra])


def test_sklearn_conditional_space(runs: Path) -> None:
    spec = _spec("sklearn_classifier.py:objective", "search.trials=6", 'study.direction="maximize"')
    study = run_objective(spec, runs_dir=runs)  # type: ignore[arg-type]
    records = study.records()
    assert [r.number for r in records] == list(range(6))
    for r in records:
        assert r.state == "complete"
        assert r.values is not None
        assert 0.0 <= r.values[0] <= 1.0
        assert r.objective == r.values[0]
        assert "cv_std" in r.user_attrs
        # The conditional space: only the chosen classifier's parameter exists.
        other = "rf_max_depth" if r.params["classifier"] == "SVC" else "svc_c"
        assert other not in r.params
    best = study.best()
    assert best is not None
    assert best.objective == max(r.objective for r in records if r.objective is not None)
    summary = pd.read_csv(study.dir.summary)
    assert len(summary) == 6
    assert {"classifier", "value_0", "user_attrs_cv_std"} <= set(summary.columns)
    journal = optuna.load_study(
        study_name=spec.study.name,  # type: ignore[attr-defined]
        storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(study.dir.journal))
        ),
    )
    assert journal.direction == optuna.study.StudyDirection.MAXIMIZE
    assert len(journal.trials) == 6


def test_pytorch_pruning_records_intermediate_values(runs: Path) -> None:
    spec = _spec(
        "pytorch_pruning.py:objective",
        "search.trials=8",
        'search.strategy="asha"',
        'study.direction="maximize"',
    )
    study = run_objective(spec, runs_dir=runs)  # type: ignore[arg-type]
    records = study.records()
    assert len(records) == 8
    states = {r.state for r in records}
    assert states == {"pruned", "complete"}
    for r in records:
        curves = pd.read_csv(study.dir.trial(r.number) / "curves.csv")
        assert list(curves.columns) == ["epoch", "value"]
        assert len(curves) == r.epochs_trained
        if r.state == "complete":
            assert r.epochs_trained == 6
            assert r.objective == pytest.approx(curves["value"].iloc[-1])
        if r.state == "pruned":
            assert r.epochs_trained < 6


def test_multi_objective_pareto_front(runs: Path) -> None:
    spec = _spec(
        "multi_objective.py:objective",
        "search.trials=5",
        'study.directions=["minimize", "maximize"]',
        'search.strategy="random"',
    )
    study = run_objective(spec, runs_dir=runs)  # type: ignore[arg-type]
    records = study.records()
    assert all(r.values is not None and len(r.values) == 2 for r in records)
    front = pareto_front(records, ["minimize", "maximize"])
    assert front
    for r in front:
        for o in records:
            assert not (
                o.values[0] <= r.values[0]  # type: ignore[index]
                and o.values[1] >= r.values[1]  # type: ignore[index]
                and o.values != r.values
            )
    dominated = [r for r in records if r not in front]
    for r in dominated:
        assert any(
            f.values[0] <= r.values[0] and f.values[1] >= r.values[1]  # type: ignore[index]
            for f in front
        )
    assert study.best() is None


def test_pareto_front_by_hand() -> None:
    from sweeplab.store import TrialRecord

    recs = [
        TrialRecord(number=i, state="complete", params={}, seed=0, values=v)
        for i, v in enumerate([[1.0, 0.5], [2.0, 0.9], [2.0, 0.4], [3.0, 0.9]])
    ]
    assert [r.number for r in pareto_front(recs, ["minimize", "maximize"])] == [0, 1]


def test_failures_are_recorded_and_the_study_goes_on(runs: Path, tmp_path: Path) -> None:
    src = tmp_path / "flaky.py"
    src.write_text(
        "def objective(trial):\n"
        "    x = trial.suggest_float('x', 0, 1)\n"
        "    if trial.number % 2:\n"
        "        raise RuntimeError('boom')\n"
        "    return x\n"
    )
    spec = objective_spec(
        f"{src}:objective", overrides=["search.trials=4", "track.tensorboard=false"]
    )
    study = run_objective(spec, runs_dir=runs)
    states = [r.state for r in study.records()]
    assert states == ["complete", "failed", "complete", "failed"]
    assert study.records()[1].reason == "RuntimeError: boom"


def test_tensorboard_logs_objective_trials(runs: Path) -> None:
    spec = objective_spec(
        f"{OBJECTIVES / 'pytorch_pruning.py'}:objective",
        overrides=["search.trials=2", 'study.direction="maximize"'],
    )
    assert spec.track.tensorboard
    study = run_objective(spec, runs_dir=runs)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from sweeplab.store import read_curves
    from sweeplab.track import OBJECTIVE_TAG

    for r in study.records():
        acc = EventAccumulator(str(study.dir.root / "tensorboard" / f"trial-{r.number:05d}"))
        acc.Reload()
        curves = read_curves(study.dir.trial(r.number))
        assert curves
        steps = [e.step for e in acc.Scalars(OBJECTIVE_TAG)]
        assert steps == [int(row["epoch"]) for row in curves]
        assert "learning_rate" not in acc.Tags()["scalars"]


def test_wrong_number_of_values_fails_the_trial(runs: Path) -> None:
    spec = _spec("multi_objective.py:objective", "search.trials=1")
    study = run_objective(spec, runs_dir=runs)  # type: ignore[arg-type]
    (rec,) = study.records()
    assert rec.state == "failed"
    assert "must return 1 value(s)" in (rec.reason or "")


def test_bad_targets_are_clear(runs: Path) -> None:
    with pytest.raises(SpecError, match="objective file must exist"):
        run_objective(objective_spec("nope.py:objective"), runs_dir=runs)
    with pytest.raises(SpecError, match="'missing' is not one"):
        run_objective(_spec("slow.py:missing"), runs_dir=runs)  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="must be a sampler"):
        run_objective(_spec("slow.py:objective", 'search.strategy="grid"'), runs_dir=runs)  # type: ignore[arg-type]


def test_resume_extends_the_budget_without_duplicates(runs: Path) -> None:
    run_objective(_spec("sklearn_classifier.py:objective", "search.trials=3"), runs_dir=runs)  # type: ignore[arg-type]
    study = run_objective(
        _spec("sklearn_classifier.py:objective", "search.trials=5"), runs_dir=runs
    )  # type: ignore[arg-type]
    assert [r.number for r in study.records()] == list(range(5))


CLI = [sys.executable, "-m", "sweeplab.cli"]


@pytest.mark.slow
def test_cli_kill_and_resume(tmp_path: Path) -> None:
    target = f"{OBJECTIVES / 'slow.py'}:objective"
    args = [*CLI, "run", "--objective", target, "--set", "search.trials=6", "-q"]
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).parents[2] / "src"),
        "OMP_NUM_THREADS": "1",
    }
    proc = subprocess.Popen(
        args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    trials = tmp_path / "runs" / "slow" / "trials"
    deadline = time.time() + 120
    while time.time() < deadline:
        if trials.is_dir() and sum(1 for _ in trials.glob("*/record.json")) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = sum(1 for _ in trials.glob("*/record.json"))
    assert 2 <= done_before < 6
    # Resume in-process (the same command through Typer), saving an interpreter start.
    runner = CliRunner()
    runs = str(tmp_path / "runs")
    res = runner.invoke(app, [*args[3:], "--runs-dir", runs])
    assert res.exit_code == 0, res.output
    study = load_study(tmp_path / "runs" / "slow")
    records = study.records()
    assert len(records) == 6
    assert all(r.state == "complete" for r in records)
    assert len({json.dumps(r.params) for r in records}) == 6
    status = runner.invoke(app, ["status", str(tmp_path / "runs" / "slow")])
    assert status.exit_code == 0
    assert "best: trial" in status.output
