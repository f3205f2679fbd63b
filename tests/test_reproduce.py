"""`sweeplab reproduce`: re-trained trials equal their records bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import sweeplab
from sweeplab.cli import app
from sweeplab.study._reproduce import reproduce
from tests.conftest import make_spec


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    spec = make_spec(
        "repro",
        params={"epochs": 9, "dropout": 0.1},
        search={
            "strategy": "hyperband",
            "trials": 10,
            "space": {"lr": {"low": 1e-4, "high": 1e-1, "log": True}, "units": [4, 8, 16]},
        },
    )
    sweeplab.run(spec, runs_dir=runs)
    return runs / "repro"


def test_every_trial_reproduces_exactly(study_dir: Path) -> None:
    records = sweeplab.load_study(study_dir).records()
    assert {r.state for r in records} >= {"complete"}
    report = reproduce(str(study_dir), sample=len(records))
    assert report.ok, report.mismatches
    assert report.checked == len(records)
    assert report.tolerance == 0.0


def test_pruned_trials_reproduce(study_dir: Path) -> None:
    pruned = [r.number for r in sweeplab.load_study(study_dir).records() if r.state == "pruned"]
    assert pruned, "hyperband should prune some trials"
    assert reproduce(str(study_dir), trials=pruned).ok


def test_tampered_record_is_a_mismatch(study_dir: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "repro"
    shutil.copytree(study_dir, copy)
    best = sweeplab.load_study(copy).best()
    assert best is not None
    path = copy / "trials" / f"{best.number:05d}" / "record.json"
    record = json.loads(path.read_text())
    record["test"]["accuracy"] += 0.01
    path.write_text(json.dumps(record))
    result = CliRunner().invoke(app, ["reproduce", str(copy), "--best"])
    assert result.exit_code == 1
    assert "test_accuracy" in result.stdout
    assert "not reproduced" in result.stdout


def test_environment_change_warns(study_dir: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "repro"
    shutil.copytree(study_dir, copy)
    prov_path = copy / "provenance.json"
    provenance = json.loads(prov_path.read_text())
    provenance["versions"]["torch"] = "1.0.0"
    prov_path.write_text(json.dumps(provenance))
    result = CliRunner().invoke(app, ["reproduce", str(copy), "--best"])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "torch is" in result.stderr
    assert "1.0.0" in result.stderr
    assert "bit-identical" in result.stdout


def test_unknown_trial_is_bad_input(study_dir: Path) -> None:
    result = CliRunner().invoke(app, ["reproduce", str(study_dir), "--trial", "999"])
    assert result.exit_code == 2
    assert "--trial must name finished trials" in result.stderr


def test_source_change_warns(study_dir: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "repro"
    shutil.copytree(study_dir, copy)
    prov_path = copy / "provenance.json"
    provenance = json.loads(prov_path.read_text())
    assert provenance["versions"]["sweeplab_source"]
    provenance["versions"]["sweeplab_source"] = "0" * 16
    prov_path.write_text(json.dumps(provenance))
    result = CliRunner().invoke(app, ["reproduce", str(copy), "--best"])
    assert result.exit_code == 0
    assert "sweeplab_source is" in result.stderr
