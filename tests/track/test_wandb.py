"""W&B: parse the offline run files with wandb's own protobuf records."""

from __future__ import annotations

import json

import pytest

from sweeplab.store import Study
from tests.track.conftest import curves
from tests.track.wandb_reader import read_records

pytestmark = pytest.mark.slow


def _kv(items) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in items}


def test_one_offline_run_per_trial_with_every_metric(tracked: Study) -> None:
    files = sorted((tracked.dir.root / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 3
    records = {r.number: r for r in tracked.records()}
    seen = set()
    for path in files:
        history: dict[int, dict[str, object]] = {}
        summary: dict[str, object] = {}
        run = None
        for rec in read_records(path):
            kind = rec.WhichOneof("record_type")
            if kind == "run":
                run = rec.run
            elif kind == "history":
                row = _kv(rec.history.item)
                history.setdefault(int(row["_step"]), {}).update(row)  # type: ignore[call-overload]
            elif kind == "summary":
                summary.update(_kv(rec.summary.update))
        assert run is not None
        assert run.run_group == "tracked"
        assert run.project == "tracked"
        number = int(run.display_name.split("-")[1])
        seen.add(number)
        record = records[number]
        config = _kv(run.config.update)
        assert config["lr"] == record.params["lr"]
        assert config["seed"] == record.seed
        assert config["architecture"] == "MLP 4-8-3, relu, 67 parameters"
        frame = curves(tracked, number)
        assert sorted(history) == list(frame["epoch"])
        for _, row in frame.iterrows():
            logged = history[int(row["epoch"])]
            for column in frame.columns:
                if column != "epoch":
                    assert logged[column] == pytest.approx(row[column], rel=1e-12), column
        for key, value in (record.test or {}).items():
            assert summary[f"test_{key}"] == pytest.approx(value)
        assert summary["state"] == "complete"
        assert summary["objective"] == pytest.approx(record.objective)
        last = history[record.epochs_trained]
        assert last["confusion_matrix_table/_type"] == "table-file"
        table_file = path.parent / "files" / str(last["confusion_matrix_table/path"])
        table = json.loads(table_file.read_text())
        assert table["columns"] == ["Actual", "Predicted", "nPredictions"]
        assert sum(row[2] for row in table["data"]) == 15
        assert "4 x 8" in (path.parent / "files" / "architecture.md").read_text()
    assert seen == set(records)
