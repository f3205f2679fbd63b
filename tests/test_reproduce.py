"""`sweeplab reproduce`: re-trained trials equal their records bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import sweeplab
import sweeplab.spec
from sweeplab.cli import app
from sweeplab.study import reproduce
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


FACTORIES = Path(__file__).parent / "compat" / "models" / "factories.py"


def test_factory_study_reproduces_in_its_fused_groups(tmp_path: Path) -> None:
    """A [model] factory study re-trains its own modules in the recorded groups, bit for bit."""
    spec = make_spec(
        "repro-factory",
        model={"factory": f"{FACTORIES}:settable"},
        params={"depth": 1, "units": 8, "epochs": 3, "batch_size": 16},
        search={
            "strategy": "grid",
            "trials": 6,
            "space": {"activation": ["relu", "tanh"], "lr": [3e-3, 5e-3, 0.03]},
        },
    )
    study = sweeplab.run(spec, runs_dir=tmp_path)
    records = study.records()
    assert max(r.group_size for r in records) > 1, "trials must have trained fused"
    report = reproduce(str(study.dir.root), sample=len(records))
    assert report.ok, report.mismatches
    assert report.checked == len(records)
    # A changed record is caught, so the check above compares real numbers.
    path = study.dir.trial(records[0].number) / "record.json"
    data = json.loads(path.read_text())
    data["val"]["loss"] += 1e-6
    path.write_text(json.dumps(data))
    assert not reproduce(str(study.dir.root), trials=[records[0].number]).ok


def test_objective_study_is_refused_with_one_line(tmp_path: Path) -> None:
    objective = Path(__file__).parent / "compat" / "objectives" / "quadratic.py"
    spec = sweeplab.spec.objective_spec(
        f"{objective}:objective", overrides=["search.trials=2", "track.tensorboard=false"]
    )
    study = sweeplab.run(spec, runs_dir=tmp_path)
    result = CliRunner().invoke(app, ["reproduce", str(study.dir.root)])
    assert result.exit_code == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "reproduce must be given a study sweeplab trains" in lines[0]


def test_reproduce_restores_the_recorded_thread_count(
    study_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from sweeplab.study import _reproduce

    copy = tmp_path / "repro"
    shutil.copytree(study_dir, copy)
    records = sweeplab.load_study(copy).records()
    assert all(r.threads is not None and r.threads >= 1 for r in records)
    best = sweeplab.load_study(copy).best()
    assert best is not None
    for r in records:
        if r.group == best.group:
            path = copy / "trials" / f"{r.number:05d}" / "record.json"
            data = json.loads(path.read_text())
            data["threads"] = 7
            path.write_text(json.dumps(data))
    seen: list[int | None] = []
    real = _reproduce.train_group

    def spy(*args: object, threads: int | None = None, **kwargs: object) -> object:
        seen.append(threads)
        return real(*args, threads=threads, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_reproduce, "train_group", spy)
    reproduce(str(copy), best=True)
    assert seen == [7]


def test_a_group_member_without_a_record_is_rebuilt_from_the_storage(tmp_path: Path) -> None:
    """A sampled trial's config and seed are not stored: a group member whose record is
    gone is re-trained from the study file with its stored suggestions and the seed its
    number gives, bit for bit."""
    import shutil

    from sweeplab.engine import derive_seed

    spec = make_spec(
        "repro-gone",
        params={"epochs": 2},
        search={"trials": 4, "group_size": 4, "space": {"lr": {"low": 1e-3, "high": 1e-1}}},
    )
    study = sweeplab.run(spec, runs_dir=tmp_path)
    records = study.records()
    assert {r.group_size for r in records} == {4}
    # The seed reproduce derives is the one each trial trained with.
    assert all(r.seed == derive_seed(spec.study.seed, r.number) for r in records)
    journal = (study.dir.root / "optuna.log").read_text()
    assert "sweeplab.config" not in journal, "a sampled trial's config follows from its params"
    assert "sweeplab.seed" not in journal
    shutil.rmtree(study.dir.trial(0))
    report = reproduce(str(study.dir.root), trials=[1, 2, 3])
    assert report.ok, report.mismatches
    assert report.checked == 3
