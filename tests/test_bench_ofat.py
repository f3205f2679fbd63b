"""bench/ofat.py runs both arms end to end at a tiny size and writes its tables (nothing timed)."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import load_bench

STUDY = """
[study]
name = "tiny-ofat"
seed = 3
repeats = 2

[data]
dataset = "iris"
split = [0.6, 0.2, 0.2]
scale = "minmax"

[params]
depth = 1
units = 8
optimizer = "adam"
batch_size = 16
epochs = 2

[search]
strategy = "ofat"

[search.space]
units = [4, 8]
batch_size = [8, 16]
"""


@pytest.fixture(scope="module")
def ofat() -> ModuleType:
    return load_bench("ofat")


def test_trial_list_is_the_study_design(ofat: ModuleType, tmp_path: Path) -> None:
    study = tmp_path / "tiny.toml"
    study.write_text(STUDY)
    spec = ofat.load_spec(study)
    trials = ofat.trial_list(spec, None)
    assert [label for label, _ in trials] == ["baseline", "baseline", "units", "batch_size"]
    assert [p.layer_units() for _, p in trials] == [(8,), (8,), (4,), (8,)]
    assert [p.batch_size for _, p in trials] == [16, 16, 16, 8]
    assert len(ofat.trial_list(spec, 3)) == 3


@pytest.mark.slow
def test_ofat_bench_runs_both_arms_and_writes_results(ofat: ModuleType, tmp_path: Path) -> None:
    study = tmp_path / "tiny.toml"
    study.write_text(STUDY)
    argv = ["--study", str(study), "--trials", "3", "--out", str(tmp_path), "--tag", "t", "--bf16"]
    results = ofat.main(argv)
    saved = json.loads((tmp_path / "ofat-cpu-t.json").read_text())
    assert saved["n_trials"] == 3
    assert set(saved["arms"]) == {"sweeplab", "sweeplab-bf16", "loop"}
    assert "calibration" in saved["arms"]["sweeplab"]
    assert results["ratio_bf16"] > 0
    for arm in saved["arms"].values():
        assert [t["number"] for t in arm["trials"]] == [0, 1, 2]
        assert all(0.0 <= t["test_accuracy"] <= 1.0 for t in arm["trials"])
        assert arm["wall_s"] > 0
    assert [t["epochs"] for t in saved["arms"]["sweeplab"]["trials"]] == [2, 2, 2]
    assert results["ratio"] == pytest.approx(
        saved["arms"]["loop"]["wall_s"] / saved["arms"]["sweeplab"]["wall_s"]
    )
    table = (tmp_path / "ofat-cpu-t.md").read_text()
    assert "| sweeplab |" in table
    assert "Speedup" in table
    assert "bfloat16" in table


@pytest.mark.slow
def test_groups_bench_times_every_planned_group(tmp_path: Path) -> None:
    groups = load_bench("groups")
    study = tmp_path / "tiny.toml"
    study.write_text(STUDY)
    results = groups.main(["--study", str(study), "--threads", "1", "--out", str(tmp_path)])
    planned = sorted(i for g in results["groups"] for i in g["trials"])
    assert planned == [0, 1, 2, 3]
    assert all(g["threads"] == 1 for g in results["groups"])
    assert all(g["fused_s"] > 0 and g["loop_s"] > 0 for g in results["groups"])
    assert "| group |" in (tmp_path / "groups-cpu.md").read_text()
