"""Honest selection: cross-validated trials and the confirmation of the top configs."""

from __future__ import annotations

import json
import math
import re
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import sweeplab
from sweeplab.engine import GroupData, MemberResult, train_group
from sweeplab.errors import DataError
from sweeplab.report import write_report
from sweeplab.spec import TrainParams
from sweeplab.study import fold_members, load_study_data, member_spec, merge_folds, study_folds
from tests.conftest import make_spec

SPACE = {"lr": [3e-3, 1e-2, 3e-2], "units": [4, 8]}


def test_cv_trial_is_the_mean_of_its_folds(runs: Path) -> None:
    spec = make_spec(
        "cv",
        data={"cv": 5},
        params={"epochs": 4},
        search={"strategy": "grid", "space": SPACE, "trials": 6},
    )
    study = sweeplab.run(spec, runs_dir=runs)
    records = study.records()
    assert len(records) == 6
    for r in records:
        assert r.state == "complete"
        assert r.folds is not None
        assert [f["fold"] for f in r.folds] == [0, 1, 2, 3, 4]
        scores = [f["val"]["accuracy"] for f in r.folds]
        assert r.objective == pytest.approx(statistics.mean(scores), abs=1e-12)
        # Nadeau-Bengio: folds share training rows, so (1/J + n_val/n_train) s², 96 train / 24 val
        corrected = statistics.stdev(scores) * math.sqrt(1 / 5 + 24 / 96)
        assert r.objective_se == pytest.approx(corrected, abs=1e-12)
        assert [(f["n_train"], f["n_val"]) for f in r.folds] == [(96, 24)] * 5
        tests = [f["test"]["accuracy"] for f in r.folds]
        assert r.test is not None
        assert r.test["accuracy"] == pytest.approx(statistics.mean(tests), abs=1e-12)
        # iris: 105 train + 15 val = 120 rows in the pool, 24 per validation fold.
        assert r.n_val == 24
        assert r.group_size == 30
    confusion = json.loads((study.dir.trial(0) / "confusion.json").read_text())
    assert sum(map(sum, confusion["val"])) == 120
    summary = pd.read_csv(study.dir.summary)
    assert {"objective_se", "n_val", "folds"} <= set(summary.columns)
    assert (summary["folds"] == 5).all()
    md = write_report(study, runs / "cv-report").markdown.read_text(encoding="utf-8")
    assert re.search(r"Paired on the folds .*: the best is separated from \d+ of the other 5", md)


def test_merge_folds_gives_the_corrected_resampled_t_se() -> None:
    scores = [0.90, 0.80, 0.85, 0.95, 0.70, 0.88, 0.91, 0.79, 0.84, 0.93]
    results = [MemberResult("complete", val={"accuracy": v}, test={"accuracy": v}) for v in scores]
    s = statistics.stdev(scores)
    # repeated 2 x 5-fold on a pool of 100: 80 train / 20 val per fold
    _, extra = merge_folds(results, "val_accuracy", [(80, 20)] * 10)
    assert extra["objective_se"] == pytest.approx(s * math.sqrt(1 / 10 + 20 / 80))
    assert extra["objective_se"] / (s / math.sqrt(10)) == pytest.approx(math.sqrt(3.5))
    # without sizes, k-fold's ratio 1/(J - 1) is assumed
    _, plain = merge_folds(results[:5], "val_accuracy")
    assert plain["objective_se"] == pytest.approx(statistics.stdev(scores[:5]) * math.sqrt(0.45))


def test_cv_trial_equals_its_folds_trained_alone(runs: Path) -> None:
    """The runner's fused k-fold numbers equal training each fold on its own rows."""
    spec = make_spec(
        "cv-alone",
        data={"cv": 3},
        study={"dtype": "float64"},
        search={"strategy": "grid", "space": {"lr": [1e-2, 3e-2]}},
    )
    study = sweeplab.run(spec, runs_dir=runs)
    dataset = load_study_data(study.spec)
    folds = study_folds(study.spec, dataset)
    pool_x = torch.cat([dataset.x_train, dataset.x_val]).double()
    pool_y = torch.cat([dataset.y_train, dataset.y_val])
    for record in study.records():
        members = fold_members(
            member_spec(TrainParams.model_validate(record.params), record.seed), len(folds)
        )
        assert record.folds is not None
        for member, fold in zip(members, record.folds, strict=True):
            assert member.fold is not None
            tr, va = folds[member.fold]
            alone = GroupData.from_tensors(
                [pool_x[tr], pool_y[tr], pool_x[va], pool_y[va], dataset.x_test, dataset.y_test],
                dataset.n_classes,
                dtype=torch.float64,
            )
            result = train_group([member.__class__(**{**member.__dict__, "fold": None})], alone)[0]
            assert result.val is not None
            for key, value in result.val.items():
                assert fold["val"][key] == pytest.approx(value, abs=1e-9), key


def test_cv_scaler_is_fit_on_train_and_val(runs: Path) -> None:
    spec = make_spec("cv-scale", data={"cv": 3})
    dataset = load_study_data(spec)
    pool = torch.cat([dataset.x_train, dataset.x_val])
    assert float(pool.min()) == 0.0
    assert float(pool.max()) == 1.0
    plain = load_study_data(make_spec("plain-scale"))
    assert plain.fingerprint != dataset.fingerprint
    assert torch.equal(plain.y_test, dataset.y_test)


def test_split_repeats_without_cv_are_random_splits(runs: Path) -> None:
    spec = make_spec("repeats", data={"split_repeats": 3}, search={"trials": 2})
    dataset = load_study_data(spec)
    folds = study_folds(spec, dataset)
    assert len(folds) == 3
    for tr, va in folds:
        assert len(va) == 15
        assert len(tr) == 105
        assert not set(tr) & set(va)
    assert not all(np.array_equal(folds[0][1], f[1]) for f in folds[1:])
    records = sweeplab.run(spec, runs_dir=runs).records()
    assert all(r.folds is not None and len(r.folds) == 3 for r in records)


def test_repeated_kfold(runs: Path) -> None:
    spec = make_spec("rkf", data={"cv": 4, "split_repeats": 2})
    folds = study_folds(spec, load_study_data(spec))
    assert len(folds) == 8
    for start in (0, 4):
        rows = np.concatenate([va for _, va in folds[start : start + 4]])
        assert sorted(rows) == list(range(120))


def test_cv_larger_than_a_class_is_refused() -> None:
    spec = make_spec("cv-big", data={"cv": 50})
    with pytest.raises(DataError, match=r"data.cv must be at most .*\(40\), but got 50"):
        study_folds(spec, load_study_data(spec))


def test_cv_with_hyperband_prunes_whole_trials(runs: Path) -> None:
    spec = make_spec(
        "cv-prune",
        data={"cv": 3},
        params={"epochs": 9},
        search={
            "strategy": "hyperband",
            "trials": 12,
            "space": {"lr": {"low": 1e-5, "high": 1e-1, "log": True}},
        },
    )
    records = sweeplab.run(spec, runs_dir=runs).records()
    pruned = [r for r in records if r.state == "pruned"]
    assert pruned
    for r in pruned:
        assert r.folds is not None
        assert {f["state"] for f in r.folds} == {"pruned"}
        assert {f["epochs"] for f in r.folds} == {r.epochs_trained}


def test_changing_cv_refuses_resume(runs: Path) -> None:
    sweeplab.run(make_spec("cv-change", search={"trials": 1}), runs_dir=runs)
    with pytest.raises(sweeplab.errors.SpecError, match=r"data.cv"):
        sweeplab.run(make_spec("cv-change", data={"cv": 3}, search={"trials": 1}), runs_dir=runs)


def test_confirmation_ranks_the_top_configs_on_fresh_folds(runs: Path) -> None:
    spec = make_spec(
        "confirm",
        params={"epochs": 6},
        search={
            "strategy": "grid",
            "space": SPACE,
            "trials": 6,
            "confirm_top": 3,
            "confirm_repeats": 2,
        },
        data={"cv": 3},
    )
    study = sweeplab.run(spec, runs_dir=runs)
    data = json.loads((study.dir.root / "confirm.json").read_text())
    assert data["top"] == 3
    assert data["n_folds"] == 6
    candidates = data["candidates"]
    assert [c["search_rank"] for c in candidates] == [1, 2, 3]
    values = [c["search_value"] for c in candidates]
    assert values == sorted(values, reverse=True)
    best = max(r.objective or 0.0 for r in study.records())
    assert values[0] == best
    assert sorted(c["confirm_rank"] for c in candidates) == [1, 2, 3]
    for c in candidates:
        assert len(c["confirm_values"]) == 6
        assert c["confirm_value"] == pytest.approx(statistics.mean(c["confirm_values"]))
        assert c["confirm_se"] == pytest.approx(  # corrected: 6 folds of 80 train / 40 val
            statistics.stdev(c["confirm_values"]) * math.sqrt(1 / 6 + 40 / 80)
        )
    winner = min(candidates, key=lambda c: (-c["confirm_value"], c["search_rank"]))
    assert data["winner"] == winner["trial"]
    assert data["changed"] == (winner["search_rank"] != 1)
    # The confirmation folds are fresh: their scores differ from the search's.
    assert [c["confirm_values"] for c in candidates] != [
        [f["val"]["accuracy"] for f in (study.records()[c["trial"]].folds or [])]
        for c in candidates
    ]


def test_confirmation_runs_once_and_again_when_asked_for_more(runs: Path) -> None:
    spec = make_spec("confirm-once", search={"strategy": "grid", "space": SPACE, "trials": 6})
    sweeplab.run(spec, runs_dir=runs)
    path = runs / "confirm-once" / "confirm.json"
    assert not path.exists()
    sweeplab.run(spec, runs_dir=runs, overrides=["search.confirm_top=2"])
    first = json.loads(path.read_text())
    assert first["top"] == 2
    assert first["n_folds"] == 5
    sweeplab.run(spec, runs_dir=runs, overrides=["search.confirm_top=2"])
    assert json.loads(path.read_text()) == first
    sweeplab.run(spec, runs_dir=runs, overrides=["search.confirm_top=4"])
    assert len(json.loads(path.read_text())["candidates"]) == 4


def test_cv_with_a_custom_model(runs: Path) -> None:
    factory = str(Path(__file__).parent.parent / "examples" / "custom_model.py")
    spec = make_spec(
        "cv-custom",
        data={"cv": 3},
        model={"factory": f"{factory}:residual_mlp"},
        params={"depth": 1, "units": 8, "epochs": 2},
        search={"trials": 3},
    )
    records = sweeplab.run(spec, runs_dir=runs).records()
    assert len(records) == 3
    for r in records:
        assert r.state == "complete"
        assert r.folds is not None
        assert len(r.folds) == 3
        assert r.objective_se is not None
    assert max(r.group_size for r in records) == 9
