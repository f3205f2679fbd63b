"""The runner: budgets, designs, resume, failures, pruning, the study directory."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import sweeplab
from sweeplab.errors import SpecError
from sweeplab.search import design_points
from sweeplab.spec import load_spec
from tests.conftest import make_spec

EXAMPLES = Path(__file__).parent.parent / "examples"
SPACE = {"lr": [1e-3, 1e-2, 1e-1], "batch_size": [8, 32]}


def _records(study: sweeplab.store.Study) -> dict[int, dict]:  # type: ignore[name-defined,type-arg]
    return {
        r.number: json.loads((study.dir.trial(r.number) / "record.json").read_text())
        for r in study.records()
    }


def test_study_directory_layout(runs: Path) -> None:
    study = sweeplab.run(make_spec("layout", search={"space": SPACE}), runs_dir=runs)
    root = runs / "layout"
    for name in ("study.toml", "provenance.json", "optuna.log", "summary.csv"):
        assert (root / name).is_file(), name
    summary = pd.read_csv(root / "summary.csv")
    assert len(summary) == 4
    for column in (
        "trial",
        "state",
        "depth",
        "units1",
        "lr",
        "batch_size",
        "epochs",
        "train_steps",
        "val_accuracy",
        "val_loss",
        "test_accuracy",
        "test_f1_macro",
        "test_recall_weighted",
        "duration_s",
        "seed",
    ):
        assert column in summary.columns, column
    assert set(summary["state"]) == {"complete"}
    assert (
        summary["train_steps"]
        == 3
        * (summary["epochs"] * 0 + 1)
        * (105 // summary["batch_size"] + (105 % summary["batch_size"] > 0))
    ).all()
    trial_dir = study.dir.trial(0)
    curves = pd.read_csv(trial_dir / "curves.csv")
    assert list(curves["epoch"]) == [1, 2, 3]
    assert {"train_loss", "val_loss", "val_accuracy"} <= set(curves.columns)
    confusion = json.loads((trial_dir / "confusion.json").read_text())
    assert sum(map(sum, confusion["test"])) == 30
    assert len(confusion["classes"]) == 3
    provenance = json.loads((root / "provenance.json").read_text())
    assert provenance["versions"]["torch"]
    assert provenance["data"]["fingerprint"]
    resolved = load_spec(root / "study.toml")
    assert resolved.params.weight_decay == 0.0
    assert resolved.search.trials == 4


def test_grid_runs_every_point_once_and_resumes(runs: Path) -> None:
    spec = make_spec("grid", search={"strategy": "grid", "space": SPACE, "trials": 4})
    first = sweeplab.run(spec, runs_dir=runs)
    before = _records(first)
    assert len(before) == 4
    again = sweeplab.run(spec, runs_dir=runs, overrides=["search.trials=100"])
    after = _records(again)
    assert len(after) == 6
    points = {(r["params"]["lr"], r["params"]["batch_size"]) for r in after.values()}
    assert len(points) == 6
    for number, record in before.items():
        assert after[number] == record
    third = sweeplab.run(spec, runs_dir=runs, overrides=["search.trials=100"])
    assert len(third.records()) == 6


def test_resume_keeps_budget_and_trials(runs: Path) -> None:
    spec = make_spec("resume", search={"space": {"lr": {"low": 1e-3, "high": 1e-1, "log": True}}})
    first = _records(sweeplab.run(spec, runs_dir=runs))
    assert len(first) == 4
    assert len(sweeplab.run(spec, runs_dir=runs).records()) == 4
    more = _records(sweeplab.run(spec, runs_dir=runs, overrides=["search.trials=6"]))
    assert len(more) == 6
    assert all(more[n] == r for n, r in first.items())
    lrs = [r["params"]["lr"] for r in more.values()]
    assert len(set(lrs)) == 6


def test_changed_study_is_refused(runs: Path) -> None:
    sweeplab.run(make_spec("changed"), runs_dir=runs)
    with pytest.raises(SpecError, match=r"params.lr changed"):
        sweeplab.run(make_spec("changed", params={"lr": 0.5}), runs_dir=runs)


def test_diverging_trial_is_recorded_and_study_goes_on(runs: Path) -> None:
    spec = make_spec(
        "nan",
        params={"optimizer": "sgd"},
        search={"strategy": "grid", "space": {"lr": [1e-2, 100.0]}},
    )
    study = sweeplab.run(spec, runs_dir=runs)
    states = {r.params["lr"]: (r.state, r.reason) for r in study.records()}
    assert states[1e-2][0] == "complete"
    assert states[100.0][0] == "failed"
    assert "diverged" in str(states[100.0][1])
    assert study.best() is not None
    assert study.best().params["lr"] == 1e-2


def test_same_seed_same_numbers(runs: Path, tmp_path: Path) -> None:
    spec = make_spec("repro", search={"space": SPACE})
    a = sweeplab.run(spec, runs_dir=runs).trials()
    b = sweeplab.run(spec, runs_dir=tmp_path / "other").trials()
    cols = ["lr", "batch_size", "seed", "val_loss", "test_accuracy"]
    pd.testing.assert_frame_equal(a[cols], b[cols])


def test_group_size_does_not_change_results(runs: Path, tmp_path: Path) -> None:
    space = {"lr": [1e-3, 3e-3, 1e-2, 3e-2], "units": [4, 8, 16]}
    spec = make_spec(
        "fused",
        study={"dtype": "float64"},
        search={"strategy": "grid", "space": space, "trials": 12},
    )
    fused = sweeplab.run(spec, runs_dir=runs).trials()
    alone = sweeplab.run(spec, runs_dir=tmp_path / "alone", overrides=["search.group_size=1"])
    alone_frame = alone.trials()
    assert fused["group_size"].max() == 12
    assert alone_frame["group_size"].max() == 1
    key = ["lr", "units1"]
    merged = fused.merge(alone_frame, on=key, suffixes=("_f", "_a"))
    assert len(merged) == 12
    for metric in ("val_loss", "test_loss", "val_accuracy", "test_f1_macro"):
        assert (merged[f"{metric}_f"] - merged[f"{metric}_a"]).abs().max() < 1e-9


@pytest.mark.parametrize(
    "strategy", ["random", "sobol", "tpe", "gp", "cmaes", "hyperband", "asha", "bohb"]
)
def test_every_strategy_runs(runs: Path, strategy: str) -> None:
    spec = make_spec(
        f"s-{strategy}",
        params={"epochs": 4},
        search={
            "strategy": strategy,
            "trials": 6,
            "space": {
                "lr": {"low": 1e-3, "high": 1e-1, "log": True},
                "units": {"low": 4, "high": 16},
                "optimizer": ["adam", "sgd"],
            },
        },
    )
    study = sweeplab.run(spec, runs_dir=runs)
    records = study.records()
    assert len(records) == 6
    assert all(r.state in ("complete", "pruned") for r in records)


def test_hyperband_prunes_members_early(runs: Path) -> None:
    spec = make_spec(
        "prune",
        params={"epochs": 27},
        search={
            "strategy": "hyperband",
            "trials": 30,
            "space": {"lr": {"low": 1e-5, "high": 1e-1, "log": True}},
        },
    )
    records = sweeplab.run(spec, runs_dir=runs).records()
    pruned = [r for r in records if r.state == "pruned"]
    assert pruned, "hyperband must prune some of 30 trials"
    assert all(r.epochs_trained < 27 for r in pruned)
    assert all(r.epochs_trained == 27 for r in records if r.state == "complete")


def test_conditional_units_follow_depth(runs: Path) -> None:
    spec = make_spec(
        "cond",
        search={
            "strategy": "grid",
            "trials": 100,
            "space": {"depth": [1, 2], "units1": [4, 8], "units2": [4, 8]},
        },
    )
    records = sweeplab.run(spec, runs_dir=runs).records()
    # depth 1: units2 irrelevant -> 2 points; depth 2: 4 points
    assert len(records) == 6
    shallow = [r for r in records if r.params["depth"] == 1]
    assert len(shallow) == 2
    assert all("units2" not in r.point for r in shallow)
    summary = pd.read_csv(runs / "cond" / "summary.csv")
    assert summary.loc[summary["depth"] == 1, "units2"].isna().all()


def test_explicit_configs_run_first_with_a_sampler(runs: Path) -> None:
    spec = make_spec(
        "configs",
        search={
            "trials": 3,
            "space": {"lr": {"low": 1e-3, "high": 1e-1, "log": True}},
            "configs": [{"lr": 0.05, "units": 12}],
        },
    )
    records = sweeplab.run(spec, runs_dir=runs).records()
    assert records[0].params["lr"] == 0.05
    assert records[0].params["units1"] == 12
    assert len(records) == 3


def test_ofat_example_design() -> None:
    spec = load_spec(EXAMPLES / "fashion_mnist_ofat.toml")
    points = design_points(spec)
    baseline = [p for p in points if p.label == "baseline"]
    assert len(baseline) == spec.study.repeats
    factors = [
        p for p in points if p.label not in ("baseline",) and not p.label.startswith("config")
    ]
    assert all(len(p.params) == 1 for p in factors)
    counts = {name: sum(p.label == name for p in factors) for name in spec.search.space}
    assert counts == {"epochs": 2, "units": 5, "batch_size": 5, "depth": 2, "lr": 3, "optimizer": 3}
    assert sum(p.label.startswith("config") for p in points) == 3
    assert len({p.key for p in points}) == len(points)


def test_the_largest_seed_runs(runs: Path) -> None:
    """Every seed the spec accepts is one the data split and the engine take."""
    spec = make_spec("bigseed", study={"seed": 2**32 - 1}, search={"trials": 1})
    study = sweeplab.run(spec, runs_dir=runs)
    assert [r.state for r in study.records()] == ["complete"]


def test_timeout_stops_between_batches_and_resume_continues(runs: Path) -> None:
    spec = make_spec(
        "timed",
        params={"epochs": 2},
        search={"strategy": "random", "trials": 6, "group_size": 2, "timeout": 1e-3},
    )
    first = sweeplab.run(spec, runs_dir=runs).records()
    assert len(first) == 2, "one batch of group_size trials, then the timeout stops the study"
    assert all(r.state == "complete" for r in first)
    spec.search.timeout = None
    again = sweeplab.run(spec, runs_dir=runs).records()
    assert len(again) == 6
    assert [r.to_dict() for r in again[:2]] == [r.to_dict() for r in first]


def test_a_sampled_trial_is_created_with_its_owner_in_one_journal_write(runs: Path) -> None:
    """Four journal writes per sampled trial besides its epochs' reports (each fsynced),
    as plain Optuna: created RUNNING with its owner, two suggestions, tell; the owner is
    never a write of its own, and config and seed (the study file, the suggestions and
    the number give them) are not stored."""
    spec = make_spec("owned", search={"trials": 5, "space": {"lr": [1e-3, 1e-2], "units": [4, 8]}})
    sweeplab.run(spec, runs_dir=runs)
    logs = [json.loads(line) for line in (runs / "owned" / "optuna.log").read_text().splitlines()]
    creates = [log for log in logs if log["op_code"] == 4]
    assert len(creates) == 5
    assert all(log["user_attrs"]["sweeplab.owner"] for log in creates)
    assert all(log["state"] == 0 for log in creates)  # RUNNING from the first write
    own_writes = [log for log in logs if "sweeplab.owner" in log.get("user_attr", {})]
    assert own_writes == []
    reported = 7  # set_trial_intermediate_value: one per epoch, for the pruner and dashboard
    per_trial = [log for log in logs if log["op_code"] != reported and log["op_code"] > 0]
    assert len(per_trial) == 5 * 4
