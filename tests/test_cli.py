"""The command line: init, run, status, export, exit codes, kill -9 and resume."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import fake_study

SWEEPLAB = [sys.executable, "-m", "sweeplab.cli"]


def cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SWEEPLAB, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def test_init_run_status_export(tmp_path: Path) -> None:
    assert cli("init", "mystudy.toml", cwd=tmp_path).returncode == 0
    assert "sweeplab run" in (tmp_path / "mystudy.toml").read_text()
    again = cli("init", "mystudy.toml", cwd=tmp_path)
    assert again.returncode == 2
    assert "must not exist" in again.stderr
    done = cli(
        "run",
        "mystudy.toml",
        "--set",
        "search.trials=3",
        "--set",
        "params.epochs=2",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "best: trial" in done.stdout
    assert (tmp_path / "runs" / "mystudy" / "tensorboard").is_dir()
    status = cli("status", "runs/mystudy", cwd=tmp_path)
    assert status.returncode == 0
    assert "complete" in status.stdout
    assert cli("status", "mystudy.toml", cwd=tmp_path).returncode == 0
    for fmt in ("csv", "json", "parquet"):
        target = tmp_path / f"out.{fmt}"
        res = cli("export", "runs/mystudy", "--format", fmt, "-o", str(target), cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        frame = {"csv": pd.read_csv, "json": pd.read_json, "parquet": pd.read_parquet}[fmt](target)
        assert len(frame) == 3
        assert "val_accuracy" in frame.columns


BAD_FILES = {
    "wrong type": ('[study]\nname = "b"\n[params]\nepochs = "many"\n', "params.epochs"),
    "unknown key": (
        '[study]\nname = "b"\n[search]\nstrategy = "tpe"\nbudget = 3\n',
        "search.budget",
    ),
    "negative lr": ('[study]\nname = "b"\n[params]\nlr = -1\n', "params.lr must be > 0"),
    "empty grid": ('[study]\nname = "b"\n[search.space]\nlr = []\n', "search.space.lr"),
    "unknown dataset": ('[study]\nname = "b"\n[data]\ndataset = "imagenet"\n', "imagenet"),
    "bad split": ('[study]\nname = "b"\n[data]\nsplit = [0.9, 0.2, 0.1]\n', "data.split"),
    "not toml": ("[study\n", "not valid TOML"),
}


@pytest.mark.parametrize("case", list(BAD_FILES), ids=list(BAD_FILES))
def test_bad_study_file_exits_2_with_one_line(tmp_path: Path, case: str) -> None:
    text, needle = BAD_FILES[case]
    (tmp_path / "bad.toml").write_text(text)
    res = cli("run", "bad.toml", cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    lines = [line for line in res.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    assert needle in lines[0]
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "runs" / "b").exists(), "no half-written study directory"


def test_missing_file_and_missing_study(tmp_path: Path) -> None:
    res = cli("run", "nope.toml", cwd=tmp_path)
    assert res.returncode == 2
    assert "was not found" in res.stderr
    res = cli("status", "runs/nope", cwd=tmp_path)
    assert res.returncode == 1
    assert "was not found" in res.stderr


def _row(stdout: str, trial: int) -> list[str]:
    """The cells of one trial's row in a rich table."""
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if cells and cells[0] == str(trial):
            return cells
    raise AssertionError(f"no row for trial {trial} in:\n{stdout}")


def test_status_shows_standard_errors_ties_and_the_confirmed_winner(tmp_path: Path) -> None:
    # 0.98 vs 0.97 on 30 validation samples: tied; 0.60 is far behind
    tied = fake_study(tmp_path, "tied", [0.97, 0.98, 0.60], n_val=30)
    res = cli("status", str(tied.dir.root), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "± SE" in res.stdout
    assert "vs best" in res.stdout
    se = {p: math.sqrt((p * 30 + 2) / 34 * (1 - (p * 30 + 2) / 34) / 30) for p in (0.98, 0.97, 0.6)}
    assert _row(res.stdout, 1)[-6:-3] == ["0.98", f"{se[0.98]:.4g}", "best"]
    assert _row(res.stdout, 0)[-6:-3] == ["0.97", f"{se[0.97]:.4g}", "tied"]
    assert _row(res.stdout, 2)[-6:-3] == ["0.6", f"{se[0.60]:.4g}", "worse"]
    assert (
        "note: the best trial 1 is inside the noise: 1 other trial within 1.96 combined "
        "standard errors (widest gap 0.01)"
    ) in res.stdout
    assert "confirmed winner" not in res.stdout

    (tied.dir.root / "confirm.json").write_text(
        json.dumps(
            {
                "objective": "val_accuracy",
                "direction": "maximize",
                "repeats": 3,
                "folds_per_repeat": None,
                "candidates": [
                    {
                        "trial": t,
                        "params": {},
                        "search_value": sv,
                        "search_se": 0.03,
                        "search_rank": sr,
                        "confirm_value": cv,
                        "confirm_se": 0.02,
                        "confirm_values": [cv] * 3,
                        "confirm_rank": cr,
                    }
                    for t, sv, sr, cv, cr in ((1, 0.98, 1, 0.94, 2), (0, 0.97, 2, 0.96, 1))
                ],
                "winner": 0,
            }
        ),
        encoding="utf-8",
    )
    res = cli("status", str(tied.dir.root), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (
        "confirmed winner: trial 0, val_accuracy = 0.9600 ± 0.02 over 3 repeats, changed from "
        "the search's best, trial 1"
    ) in res.stdout

    clear = fake_study(tmp_path, "clear", [0.98, 0.70], n_val=300)
    res = cli("status", str(clear.dir.root), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert _row(res.stdout, 1)[-4] == "worse"
    assert "inside the noise" not in res.stdout


@pytest.mark.slow
def test_kill_9_then_resume_loses_and_repeats_nothing(tmp_path: Path) -> None:
    (tmp_path / "grid.toml").write_text(
        """
[study]
name = "killed"
seed = 5
[data]
dataset = "digits"
[params]
epochs = 6
units = 32
[search]
strategy = "grid"
group_size = 2
[search.space]
lr = [1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 2e-2]
batch_size = [8, 16]
[track]
tensorboard = false
"""
    )
    trials = tmp_path / "runs" / "killed" / "trials"
    proc = subprocess.Popen([*SWEEPLAB, "run", "grid.toml", "-q"], cwd=tmp_path)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(trials.glob("*/record.json"))) < 3:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p.parent.name: p.read_text() for p in trials.glob("*/record.json")}
    assert 3 <= len(before) < 12, "the kill must land mid-study"
    res = cli("run", "grid.toml", "-q", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    after = {p.parent.name: p.read_text() for p in trials.glob("*/record.json")}
    records = [json.loads(t) for t in after.values()]
    assert len(records) == 12
    points = {(r["params"]["lr"], r["params"]["batch_size"]) for r in records}
    assert len(points) == 12, "no grid point twice"
    for name, text in before.items():
        assert after[name] == text, "finished trials are unchanged"
    summary = pd.read_csv(tmp_path / "runs" / "killed" / "summary.csv")
    assert len(summary) == 12
    assert set(summary["state"]) == {"complete"}
