"""Crash safety and concurrency: kill -9 at random moments, many processes, SIGINT."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest

from sweeplab.store import load_study

GRID = """
[study]
name = "{name}"
seed = 11
[data]
dataset = "digits"
[params]
epochs = {epochs}
units = 32
[search]
strategy = "grid"
group_size = {group}
[search.space]
lr = [1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 2e-2, 3e-2, 5e-2]
batch_size = {batches}
[track]
tensorboard = false
"""


def _write(tmp_path: Path, name: str, epochs: int, group: int, batches: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(GRID.format(name=name, epochs=epochs, group=group, batches=batches))
    return path


def _run(path: Path, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "sweeplab", "run", str(path), "-q"],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _records(trials: Path) -> dict[str, str]:
    return {p.parent.name: p.read_text() for p in trials.glob("*/record.json")}


def _check_final(root: Path, budget: int) -> None:
    records = [json.loads(t) for t in _records(root / "trials").values()]
    assert len(records) == budget
    points = {(r["params"]["lr"], r["params"]["batch_size"]) for r in records}
    assert len(points) == budget, "no grid point twice"
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(root / "optuna.log"))
    )
    trials = optuna.load_study(study_name=root.name, storage=storage).get_trials()
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted(t.number for t in done) == sorted(r["number"] for r in records)
    assert not [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
    summary = pd.read_csv(root / "summary.csv")
    assert sorted(summary["trial"]) == sorted(r["number"] for r in records)
    by_number = {r["number"]: r for r in records}
    for row in summary.itertuples():
        assert row.val_accuracy == pytest.approx(by_number[row.trial]["val"]["accuracy"])


@pytest.mark.slow
def test_twenty_random_kills_lose_and_repeat_nothing(tmp_path: Path) -> None:
    # Enough work (about a minute on a quiet 2-core machine) that 20 kills
    # 1.5-3 s after each start cannot finish it, however fast startup is.
    path = _write(tmp_path, "kills", epochs=30, group=2, batches="[8, 16, 32, 64]")
    root = tmp_path / "runs" / "kills"
    rng = random.Random(2024)
    seen: dict[str, str] = {}
    kills = 0
    while kills < 20:
        proc = _run(path, tmp_path)
        time.sleep(rng.uniform(1.5, 3.0))
        if proc.poll() is not None:
            break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
        now = _records(root / "trials")
        for name, text in seen.items():
            assert now[name] == text, "a finished trial changed after a kill"
        seen = now
    assert kills == 20, "the study must outlast 20 kills"
    final = _run(path, tmp_path)
    assert final.wait(timeout=300) == 0
    now = _records(root / "trials")
    assert all(now[name] == text for name, text in seen.items())
    _check_final(root, budget=32)


@pytest.mark.slow
def test_four_processes_share_one_study(tmp_path: Path) -> None:
    # Groups long enough (about a second each) that no process can finish the
    # whole study while the others are still starting up (a 1-epoch grid could).
    path = _write(tmp_path, "shared", epochs=6, group=2, batches="[8, 16]")
    procs = [_run(path, tmp_path) for _ in range(4)]
    for proc in procs:
        assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""
    root = tmp_path / "runs" / "shared"
    _check_final(root, budget=16)
    owners = {r.group.rsplit("-", 1)[0] for r in load_study(root).records()}
    assert len(owners) >= 2, "work must be shared between processes"


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigint_saves_and_says_how_to_resume(tmp_path: Path, signum: int, code: int) -> None:
    # SIGTERM is how Slurm and Kubernetes stop a job: it must behave like Ctrl-C.
    path = _write(tmp_path, "interrupted", epochs=6, group=2, batches="[8, 16]")
    root = tmp_path / "runs" / "interrupted"
    proc = _run(path, tmp_path)
    deadline = time.time() + 120
    while time.time() < deadline and len(_records(root / "trials")) < 2:
        time.sleep(0.05)
    proc.send_signal(signum)
    assert proc.wait(timeout=60) == code
    assert proc.stderr is not None
    message = proc.stderr.read().decode()
    assert "run the same command again to resume" in message
    assert "Traceback" not in message
    before = _records(root / "trials")
    assert 2 <= len(before) < 16
    resumed = _run(path, tmp_path)
    assert resumed.wait(timeout=300) == 0
    after = _records(root / "trials")
    assert all(after[name] == text for name, text in before.items())
    _check_final(root, budget=16)
