"""The live views: ``sweeplab dashboard`` over HTTP and ``sweeplab status --watch``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

import sweeplab
from sweeplab.cli import app
from sweeplab.track import EventLogTracker
from tests.conftest import make_spec


@pytest.mark.slow
def test_dashboard_serves_the_study_on_loopback(runs: Path) -> None:
    study = sweeplab.run(make_spec("dash", search={"trials": 2}), runs_dir=runs)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sweeplab", "dashboard", str(study.dir.root), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line
        with urllib.request.urlopen(f"{match.group(0)}api/studies", timeout=30) as resp:
            body = json.loads(resp.read())
        (entry,) = body["study_summaries"]
        assert entry["study_name"] == "dash"
        study_id = entry["study_id"]
        with urllib.request.urlopen(f"{match.group(0)}api/studies/{study_id}", timeout=30) as r:
            detail = json.loads(r.read())
        assert len(detail["trials"]) == 2
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_dashboard_without_the_extra_is_one_line(
    runs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    study = sweeplab.run(make_spec("nodash", search={"trials": 1}), runs_dir=runs)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "optuna_dashboard" else real(name, *a),
    )
    result = CliRunner().invoke(app, ["dashboard", str(study.dir.root)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: sweeplab dashboard needs the 'optuna_dashboard' package, but it is not "
        "installed: pip install 'sweeplab[dashboard]'"
    ]


def test_status_watch_shows_training_and_finished_trials(runs: Path) -> None:
    study = sweeplab.run(make_spec("watch", search={"trials": 2}), runs_dir=runs)
    log = EventLogTracker(study.dir.root)
    log.trial_started(7, {"epochs": 9, "lr": 0.1}, 1)
    log.epoch_logged(7, {"epoch": 4.0, "train_loss": 0.25, "val_accuracy": 0.875})
    log.close()
    result = CliRunner().invoke(
        app, ["status", str(study.dir.root), "--watch", "--interval", "0.05", "--count", "2"]
    )
    assert result.exit_code == 0, result.output
    text = result.output
    assert "watch: 2/2 finished, 2 complete, 1 training" in text
    assert re.search(r"7\s*│\s*4\s*│\s*9\s*│\s*0\.25\s*│\s*0\.875", text), text
    best = study.best()
    assert best is not None
    assert f"{best.objective:.4g}" in text
