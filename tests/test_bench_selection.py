"""bench/selection.py runs end to end at a tiny size and writes its table (nothing timed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench import selection


@pytest.mark.slow
def test_selection_bench_runs_both_arms(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    selection.main(
        [
            "--seeds",
            "1",
            "--trials",
            "3",
            "--epochs",
            "2",
            "--final-seeds",
            "2",
            "--out",
            str(tmp_path),
        ]
    )
    table = (tmp_path / "selection-cpu.md").read_text()
    assert "| plain |" in table
    assert "| cv+confirm |" in table
    rows = json.loads((tmp_path / "selection-cpu.json").read_text())["rows"]
    assert [r["arm"] for r in rows] == ["plain", "cv+confirm"]
    for row in rows:
        assert 0.0 <= row["final_test"] <= 1.0
        assert row["wall_s"] > 0
    assert rows[1]["confirm_s"] > 0
