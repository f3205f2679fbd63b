"""The command line: init, run, status, export, exit codes, kill -9 and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

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
