"""bench/engine.py runs end to end at a tiny size and writes its tables (nothing timed)."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
import torch

from tests.conftest import load_bench


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench("engine")


def test_workloads_replay_the_example_studies(bench: ModuleType) -> None:
    ofat = bench.ofat_workload()
    assert ofat.spec.data.dataset == bench.SYNTHETIC
    assert len(ofat.configs) == len({c.model_dump_json() for c in ofat.configs}) + 2
    assert len(bench.iris_workload().configs) == 5
    digits = bench.digits_workload(6)
    assert len(digits.configs) == 6
    assert digits.spec.search.strategy == "random"
    fmnist = bench.fmnist_workload(4, 2)
    lrs = [c.lr for c in fmnist.configs]
    assert lrs == sorted(lrs)
    assert lrs[0] == pytest.approx(1e-4)
    assert lrs[-1] == pytest.approx(1e-2)


@pytest.mark.slow
def test_bench_runs_every_method_and_writes_results(bench: ModuleType, tmp_path: Path) -> None:
    argv = ["--samples", "400", "--trials", "2", "--epochs", "2", "--workloads", "fmnist,iris"]
    threads = torch.get_num_threads()
    try:
        results = bench.main([*argv, "--device", "cpu", "--threads", "1", "--out", str(tmp_path)])
    finally:
        torch.set_num_threads(threads)
    saved = json.loads((tmp_path / "engine-cpu.json").read_text())
    assert saved["hardware"]["torch_threads"] == 1
    assert [w["name"] for w in saved["workloads"]] == ["fmnist", "iris"]
    for w in results["workloads"]:
        rows = {m["method"]: m for m in w["methods"]}
        assert list(rows) == list(bench.METHODS)
        assert rows["loop"]["speedup"] == pytest.approx(1.0)
        expected = 2 * 2 if w["name"] == "fmnist" else 5 * 50
        for row in rows.values():
            assert row["trial_epochs"] == expected
            assert 0.0 <= row["mean_test_accuracy"] <= 1.0
            assert row["wall_s"] > 0
    table = (tmp_path / "engine-cpu.md").read_text()
    assert "| sweeplab | " in table
    assert "speedup vs (a)" in table
