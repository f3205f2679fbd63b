"""MLflow: read the study back through the MLflow client."""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient

from sweeplab.store import Study
from tests.track.conftest import curves

pytestmark = pytest.mark.slow


def test_experiment_parent_and_nested_runs(tracked: Study) -> None:
    root = tracked.dir.root
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("tracked")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("sweeplab.role") == "study"]
    assert parent.info.status == "FINISHED"
    assert parent.data.params["study.seed"] == "3"
    trials = {int(r.data.tags["sweeplab.trial"]): r for r in runs if r is not parent}
    trials = {k: v for k, v in trials.items() if v.info.run_id != parent.info.run_id}
    records = {r.number: r for r in tracked.records()}
    assert set(trials) == set(records)
    for number, run in trials.items():
        record = records[number]
        run_id = run.info.run_id
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.info.status == "FINISHED"
        assert run.data.tags["state"] == "complete"
        assert run.data.tags["seed"] == str(record.seed)
        assert run.data.tags["group"] == record.group
        assert run.data.params["epochs"] == str(record.params["epochs"])
        assert run.data.params["lr"] == str(record.params["lr"])
        frame = curves(tracked, number)
        for column in frame.columns:
            if column == "epoch":
                continue
            history = client.get_metric_history(run_id, column)
            assert [m.step for m in history] == list(frame["epoch"]), column
            assert [m.value for m in history] == pytest.approx(list(frame[column]), rel=1e-9)
        for key, value in (record.test or {}).items():
            (metric,) = client.get_metric_history(run_id, f"test_{key}")
            assert metric.value == pytest.approx(value, rel=1e-9)
            assert metric.step == record.epochs_trained
        assert run.data.metrics["objective"] == pytest.approx(record.objective)
        assert run.data.metrics["train_steps"] == record.train_steps
        names = {a.path for a in client.list_artifacts(run_id)}
        assert {"confusion_matrix.png", "curves.csv", "confusion.json", "architecture.md"} <= names
        local = client.download_artifacts(run_id, "confusion_matrix.png")
        with open(local, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
        arch = client.download_artifacts(run_id, "architecture.md")
        with open(arch, encoding="utf-8") as fh:
            assert "MLP 4-8-3" in fh.read()


def test_tracking_uri_precedence(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from sweeplab.track._mlflow import default_tracking_uri

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert default_tracking_uri(tmp_path) == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert default_tracking_uri(tmp_path) == "http://127.0.0.1:5000"
    assert default_tracking_uri(tmp_path, "sqlite:///x.db") == "sqlite:///x.db"
