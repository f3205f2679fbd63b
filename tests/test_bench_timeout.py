"""bench/timeout.py and bench/custom_example.py run both arms at a tiny size and write
their tables (nothing timed: the checks are on structure and sane values)."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import optuna
import pytest

from tests.conftest import load_bench


def _load(name: str) -> ModuleType:
    return load_bench(name)


@pytest.fixture(scope="module")
def timeout() -> ModuleType:
    return _load("timeout")


@pytest.fixture(scope="module")
def custom() -> ModuleType:
    return _load("custom_example")


def test_plain_objective_suggests_the_study_space_by_depth(timeout: ModuleType) -> None:
    spec = timeout.load_spec(timeout.STUDY)
    fixed = {"depth": 2, "units1": 16, "units2": 128, "lr": 1e-3, "dropout": 0.2, "batch_size": 32}
    params = timeout.suggest_params(optuna.trial.FixedTrial(fixed), spec)
    assert params == fixed  # units3 is not suggested at depth 2
    assert set(params) <= set(spec.search.space)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        p = timeout.suggest_params(study.ask(), spec)
        assert {f"units{i}" for i in range(1, p["depth"] + 1)} == {k for k in p if "units" in k}
        assert p["batch_size"] in spec.search.space["batch_size"]
        assert spec.search.space["lr"].low <= p["lr"] <= spec.search.space["lr"].high


def _check_arm(arm: dict[str, Any]) -> None:
    assert 0.0 < arm["val_accuracy"] <= 1.0
    assert 0.0 < arm["test_accuracy"] <= 1.0
    assert arm["trials"] >= 1
    assert arm["wall_s"] > 0


@pytest.mark.slow
def test_timeout_bench_runs_both_arms_and_writes_results(
    timeout: ModuleType, tmp_path: Path
) -> None:
    out = tmp_path / "timeout"
    argv = ["--seeds", "1", "--timeout", "2", "--set", "params.epochs=1", "--threads", "1"]
    results = timeout.main([*argv, "--out", str(out)])
    saved = json.loads(Path(f"{out}.json").read_text())
    assert saved["timeout"] == 2
    assert [r["seed"] for r in saved["rows"]] == [0]
    row = saved["rows"][0]
    for name in ("sweeplab", "plain"):
        _check_arm(row[name])
    assert row["plain"]["threads"] == 1
    assert len(row["plain"]["test_per_seed"]) == saved["refit_seeds"] == 3
    assert "search.timeout=2" in row["sweeplab"]["command"]
    means, diff = saved["summary"]["means"], saved["summary"]["difference"]
    for metric in ("val_accuracy", "test_accuracy", "trials", "wall_s"):
        assert means["sweeplab"][metric] == pytest.approx(row["sweeplab"][metric])
        assert diff[metric] == pytest.approx(row["sweeplab"][metric] - row["plain"][metric])
    assert results["summary"] == saved["summary"]
    table = Path(f"{out}.md").read_text()
    assert "| **mean** |" in table
    assert "Mean difference (sweeplab - plain)" in table


@pytest.mark.slow
def test_custom_example_bench_trains_the_same_configs(custom: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "custom"
    argv = ["--set", "params.epochs=1", "--set", "search.trials=3", "--threads", "1"]
    results = custom.main([*argv, "--out", str(out)])
    saved = json.loads(Path(f"{out}.json").read_text())
    assert saved["n_trials"] == 3
    fused, loop = saved["arms"]["sweeplab"], saved["arms"]["loop"]
    assert [t["number"] for t in fused["trials"]] == [t["number"] for t in loop["trials"]]
    for arm in (fused, loop):
        assert len(arm["trials"]) == 3
        assert all(0.0 < t["test_accuracy"] <= 1.0 for t in arm["trials"])
        assert arm["wall_s"] > 0
    assert saved["loop_threads"] == 1
    assert results["ratio"] == pytest.approx(loop["wall_s"] / fused["wall_s"])
    assert "Speedup" in Path(f"{out}.md").read_text()
