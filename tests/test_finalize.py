"""`sweeplab finalize`: the chosen config on train+val, tested once, saved with a card."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

import sweeplab
from sweeplab.cli import app
from sweeplab.data import load_dataset
from sweeplab.engine import derive_seed
from sweeplab.study import load_study_data
from sweeplab.study._finalize import FINALIZE_TAG, finalize
from tests.conftest import make_spec


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    spec = make_spec(
        "fin",
        params={"epochs": 15},
        search={"strategy": "random", "trials": 4, "space": {"units": [4, 8], "lr": [3e-3, 3e-2]}},
    )
    sweeplab.run(spec, runs_dir=runs)
    return runs / "fin"


@pytest.fixture
def copy(study_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the study to tamper with."""
    return Path(shutil.copytree(study_dir, tmp_path / "fin"))


def _sequential(card: dict[str, Any]) -> torch.nn.Sequential:
    """The plain model a user would build from the card."""
    dims = card["architecture"]["layers"]
    assert card["architecture"]["activation"] == "relu"
    layers: list[torch.nn.Module] = []
    for i in range(len(dims) - 1):
        if i:
            layers.append(torch.nn.ReLU())
        layers.append(torch.nn.Linear(dims[i], dims[i + 1]))
    return torch.nn.Sequential(*layers)


def _numbers(node: Any) -> list[float]:
    if isinstance(node, dict):
        return [x for v in node.values() for x in _numbers(v)]
    if isinstance(node, list):
        return [x for v in node for x in _numbers(v)]
    if isinstance(node, float):
        return [node]
    return []


def test_saved_model_scores_like_the_card(
    study_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = sweeplab.load_study(study_dir)
    best = study.best()
    assert best is not None
    final = finalize(study_dir, out=tmp_path / "final")
    card = json.loads(final.card_json.read_text())
    assert card == json.loads(json.dumps(final.card))
    assert (card["trial"], card["chosen_by"]) == (best.number, "validation")
    assert final.card_md.read_text().startswith(f"# Model card: fin, trial {best.number}")
    assert "It covers seed variance only" in final.card_md.read_text()

    # Seeds: max(3, study.repeats), derived from the study seed, the tag and the trial.
    assert card["seeds"] == [derive_seed(3, FINALIZE_TAG, best.number, i) for i in range(3)]

    # Data: the study's split, trained on train+val, the test set held out.
    provenance = json.loads((study_dir / "provenance.json").read_text())
    data = card["data"]
    assert data["fingerprint"] == provenance["data"]["fingerprint"]
    assert data["n_fit"] == data["n_train"] + data["n_val"] == 120
    assert data["classes"] == ["setosa", "versicolor", "virginica"]
    assert card["config"] == best.params
    assert card["validation"]["value"] == best.objective

    # The weights in a plain nn.Sequential, on raw features through the stored scaler,
    # give the card's seed-0 test accuracy exactly.
    state = load_file(str(final.model))
    shift, spread = state.pop("scaler.shift"), state.pop("scaler.spread")
    assert state["0.weight"].shape == (best.params["units1"], 4)
    model = _sequential(card)
    model.load_state_dict(state)
    spec = study.spec
    raw = load_dataset("iris", split=tuple(spec.data.split), scale="none", seed=spec.study.seed)
    scaled = load_study_data(spec)
    x_test = (raw.x_test - shift) / spread
    assert torch.equal(x_test, scaled.x_test)
    with torch.no_grad():
        predicted = model.eval()(x_test).argmax(1)
    accuracy = int((predicted == raw.y_test).sum()) / len(raw.y_test)
    assert card["model_seed_index"] == 0
    assert accuracy == card["test"]["per_seed"][0]["test"]["accuracy"]
    assert accuracy == card["test"]["reloaded_accuracy"]

    # The card's own usage snippet does the same.
    monkeypatch.chdir(final.out)
    namespace: dict[str, Any] = {"x_raw": raw.x_test.numpy()}
    exec(compile(card["usage"], "usage", "exec"), namespace)
    assert torch.equal(namespace["x"], scaled.x_test)
    assert torch.equal(namespace["predicted"], predicted)
    assert card["usage"] in final.card_md.read_text()

    # Every seed is in seeds.safetensors; seed 0 equals model.safetensors.
    every = load_file(str(final.seeds))
    assert {k.split(".", 1)[0] for k in every} == {"seed0", "seed1", "seed2", "scaler"}
    for name, tensor in state.items():
        assert torch.equal(every[f"seed0.{name}"], tensor)

    # The card: finite numbers, intervals around their means, hashes of the files.
    assert all(math.isfinite(x) for x in _numbers(card))
    for name, row in card["test"]["summary"].items():
        assert row["n"] == 3, name
        assert row["low"] <= row["mean"] <= row["high"], name
        values = [s["test"][name] for s in card["test"]["per_seed"]]
        assert row["mean"] == pytest.approx(sum(values) / 3, abs=1e-12)
    wilson = card["test"]["accuracy_wilson"]
    assert wilson["n"] == 3 * data["n_test"]
    assert 0.0 <= wilson["low"] <= wilson["value"] <= wilson["high"] <= 1.0
    assert wilson["value"] == pytest.approx(card["test"]["summary"]["accuracy"]["mean"])
    for path in (final.model, final.seeds):
        assert card["files"][path.name]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert card["provenance"]["model_sha256"] == card["files"]["model.safetensors"]["sha256"]
    assert card["provenance"]["study"]["versions"] == provenance["versions"]
    assert card["provenance"]["study"]["platform"] == provenance["platform"]

    # Deterministic on the CPU: finalizing again writes the same weights.
    again = finalize(study_dir, out=tmp_path / "again")
    assert again.model.read_bytes() == final.model.read_bytes()


def test_float64_deep_model_and_standard_scaler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two hidden layers of different widths, gelu, dropout, float64: the card's
    snippet rebuilds the model and scales raw features exactly as the study did."""
    spec = make_spec(
        "fin64",
        study={"dtype": "float64", "repeats": 4},
        data={"dataset": "wine", "scale": "standard"},
        params={"depth": 2, "units": 12, "units2": 6, "activation": "gelu", "dropout": 0.1},
        search={"strategy": "random", "trials": 2, "space": {"lr": [3e-3, 1e-2]}},
    )
    sweeplab.run(spec, runs_dir=tmp_path / "runs")
    final = finalize(tmp_path / "runs" / "fin64")
    card = final.card
    assert len(card["seeds"]) == 4  # study.repeats > 3
    assert card["architecture"]["layers"] == [13, 12, 6, 3]
    raw = load_dataset("wine", scale="none", seed=3)
    monkeypatch.chdir(final.out)
    namespace: dict[str, Any] = {"x_raw": raw.x_test.numpy()}
    exec(compile(card["usage"], "usage", "exec"), namespace)
    assert torch.equal(namespace["x"], load_study_data(spec).x_test.double())
    accuracy = int((namespace["predicted"] == raw.y_test).sum()) / len(raw.y_test)
    assert accuracy == card["test"]["per_seed"][0]["test"]["accuracy"]


def _confirm(winner: int | None, trial: int) -> dict[str, Any]:
    return {
        "objective": "val_accuracy",
        "direction": "maximize",
        "repeats": 2,
        "folds_per_repeat": 5,
        "candidates": [
            {
                "trial": trial,
                "params": {},
                "search_value": 0.9,
                "search_se": 0.02,
                "search_rank": 3,
                "confirm_value": 0.96,
                "confirm_se": 0.01,
                "confirm_values": [0.95, 0.97],
                "confirm_rank": 1,
            }
        ],
        "winner": winner,
    }


def test_confirmed_winner_is_used(copy: Path, tmp_path: Path) -> None:
    study = sweeplab.load_study(copy)
    best = study.best()
    assert best is not None
    other = next(r.number for r in reversed(study.records()) if r.number != best.number)
    (copy / "confirm.json").write_text(json.dumps(_confirm(other, other)))
    final = finalize(copy, seeds=2)
    assert final.out == copy / "final"
    assert (final.trial, final.chosen_by) == (other, "confirmed")
    assert final.card["confirm"]["confirm_value"] == 0.96
    assert "confirmed winner" in final.card["why"]
    assert len(final.card["seeds"]) == 2
    assert "Confirmation on fresh folds and seeds: 0.9600 ± 0.01 (SE), rank 1" in (
        final.card_md.read_text()
    )

    # --trial wins over confirm.json; without confirm.json the best trial is used.
    assert finalize(copy, trial=best.number, seeds=1, out=tmp_path / "a").chosen_by == "user"
    (copy / "confirm.json").unlink()
    fallback = finalize(copy, seeds=1, out=tmp_path / "b")
    assert (fallback.trial, fallback.chosen_by) == (best.number, "validation")
    summary = fallback.card["test"]["summary"]["accuracy"]
    assert summary["n"] == 1
    assert summary["low"] is None  # one seed: no interval, written as null


def test_winner_of_a_real_confirmation(tmp_path: Path) -> None:
    """End to end with the confirmation step: 3-fold CV search, top 2 confirmed."""
    spec = make_spec(
        "finconf",
        data={"cv": 3},
        params={"epochs": 8},
        search={
            "strategy": "random",
            "trials": 4,
            "space": {"units": [4, 8], "lr": [3e-3, 3e-2]},
            "confirm_top": 2,
            "confirm_repeats": 1,
        },
    )
    study = sweeplab.run(spec, runs_dir=tmp_path / "runs")
    confirm = json.loads((study.dir.root / "confirm.json").read_text())
    assert confirm["winner"] is not None
    final = finalize(study.dir.root, seeds=2)
    assert (final.trial, final.chosen_by) == (confirm["winner"], "confirmed")
    record = next(r for r in study.records() if r.number == final.trial)
    validation = final.card["validation"]
    assert validation["se"] == record.objective_se
    assert validation["folds"] == 3
    assert final.card["confirm"]["trial"] == final.trial
    assert final.card["data"]["n_fit"] == 120  # train+val, the pool the folds came from
    assert (
        final.card["test"]["reloaded_accuracy"]
        == (final.card["test"]["per_seed"][0]["test"]["accuracy"])
    )


def test_cli_prints_table_and_paths(copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    result = CliRunner().invoke(app, ["finalize", str(copy), "--seeds", "2", "--out", str(out)])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "test metrics" in result.stdout
    assert "Wilson" in result.stdout
    assert str(out) in result.stdout.replace("\n", "")
    assert (out / "model.safetensors").is_file()
    assert (out / "model_card.md").is_file()


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _pruned(copy: Path) -> list[str]:
    record = next((copy / "trials").iterdir()) / "record.json"
    _edit(record, '"state": "complete"', '"state": "pruned"')
    return ["--trial", str(json.loads(record.read_text())["number"])]


def _factory(copy: Path) -> list[str]:
    _edit(copy / "study.toml", "[model]\n", '[model]\nfactory = "models.py:build"\n')
    return []


def _objective(copy: Path) -> list[str]:
    for record in (copy / "trials").glob("*/record.json"):
        _edit(record, '"depth": 1,', "")
    return []


def _fingerprint(copy: Path) -> list[str]:
    prov = copy / "provenance.json"
    data = json.loads(prov.read_text())
    data["data"]["fingerprint"] = "0" * 64
    prov.write_text(json.dumps(data))
    return []


def _bad_confirm(copy: Path) -> list[str]:
    (copy / "confirm.json").write_text('{"winner": "twelve"}')
    return []


def _null_winner(copy: Path) -> list[str]:
    (copy / "confirm.json").write_text(json.dumps(_confirm(None, 3)))
    return []


def _confirm_unknown(copy: Path) -> list[str]:
    (copy / "confirm.json").write_text(json.dumps(_confirm(999, 999)))
    return []


ERRORS = {
    "no such trial": (lambda copy: ["--trial", "999"], "--trial must be a finished trial"),
    "pruned trial": (_pruned, "--trial must be a complete trial"),
    "zero seeds": (lambda copy: ["--seeds", "0"], "--seeds must be an integer >= 1"),
    "custom model": (_factory, "finalize supports only it"),
    "optuna objective": (_objective, "finalize supports only it"),
    "data changed": (_fingerprint, "data fingerprint must match"),
    "bad confirm.json": (_bad_confirm, "confirm.json must be a confirmation file"),
    "null winner": (_null_winner, "confirm.json must be a confirmation file"),
    "unknown winner": (_confirm_unknown, "confirm.json 'winner' must be a finished trial"),
}


@pytest.mark.parametrize("case", list(ERRORS), ids=list(ERRORS))
def test_errors_exit_2_with_one_line(copy: Path, case: str) -> None:
    make_args, needle = ERRORS[case]
    args = make_args(copy)
    result = CliRunner().invoke(app, ["finalize", str(copy), *args])
    assert result.exit_code == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert needle in lines[0]
    assert "Traceback" not in result.stderr
    assert not (copy / "final").exists()


def test_missing_study_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["finalize", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "was not found" in result.stderr
