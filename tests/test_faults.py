"""Faults beyond a kill: a torn journal, damaged records, SIGTERM, a full disk."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

import sweeplab
from sweeplab.errors import StudyError
from sweeplab.store import load_study
from sweeplab.study import doctor
from tests.conftest import make_spec

GRID = {"strategy": "grid", "trials": 6, "space": {"lr": [1e-3, 1e-2, 1e-1], "batch_size": [8, 32]}}


def record_bytes(root: Path) -> dict[str, bytes]:
    return {p.parent.name: p.read_bytes() for p in (root / "trials").glob("*/record.json")}


def _stored(root: Path) -> list[optuna.trial.FrozenTrial]:
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(root / "optuna.log"))
    )
    return optuna.load_study(study_name=root.name, storage=storage).get_trials()


def check_nothing_lost_or_twice(
    root: Path, budget: int, void: frozenset[int] = frozenset()
) -> None:
    """Every counted trial has its record and the storage agrees with each one.

    ``void`` are trials whose records were quarantined: complete in storage, run again.
    """
    records = {r.number: r for r in load_study(root).records()}
    assert len(records) == budget
    keys = [r.point_key for r in records.values() if r.point_key]
    assert len(keys) == len(set(keys)), "a planned point ran twice"
    trials = _stored(root)
    assert not [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
    done = {
        t.number: t
        for t in trials
        if t.state == optuna.trial.TrialState.COMPLETE and t.number not in void
    }
    assert sorted(done) == sorted(records)
    for number, trial in done.items():
        assert trial.value == pytest.approx(records[number].objective)


def _cut(journal: Path, at: int) -> bytes:
    data = journal.read_bytes()
    journal.write_bytes(data[:at])
    return data


def test_torn_tail_is_cut_with_a_backup_and_a_larger_budget_resumes(
    runs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sweeplab.run(make_spec("torn", search={"trials": 4}), runs_dir=runs)
    root = runs / "torn"
    before = record_bytes(root)
    journal = root / "optuna.log"
    original = _cut(journal, journal.stat().st_size - 37)
    with caplog.at_level(logging.WARNING):
        sweeplab.run(make_spec("torn", search={"trials": 6}), runs_dir=runs)
    backups = list(root.glob("optuna.log.torn-*"))
    assert len(backups) == 1
    assert backups[0].read_bytes() == original[:-37]
    cut = [r.getMessage() for r in caplog.records if "unreadable byte(s)" in r.getMessage()]
    assert len(cut) == 1
    assert backups[0].name in cut[0]
    after = record_bytes(root)
    assert all(after[name] == text for name, text in before.items()), "a record changed"
    check_nothing_lost_or_twice(root, budget=6)


def test_lost_trial_entries_are_told_again_from_their_records(runs: Path) -> None:
    sweeplab.run(make_spec("lost", search=GRID), runs_dir=runs)
    root = runs / "lost"
    before = record_bytes(root)
    journal = root / "optuna.log"
    lines = journal.read_bytes().splitlines(keepends=True)
    last_create = max(i for i, line in enumerate(lines) if json.loads(line)["op_code"] == 4)
    # A torn append in the middle of the last trial's creation: the storage loses the
    # trial (and everything after it), though its record was written.
    _cut(journal, sum(len(line) for line in lines[:last_create]) + 10)
    sweeplab.run(make_spec("lost", search=GRID), runs_dir=runs)
    assert record_bytes(root) == before, "nothing may be trained again"
    check_nothing_lost_or_twice(root, budget=6)


def test_damage_in_the_middle_is_refused_and_doctor_rebuilds_from_records(runs: Path) -> None:
    sweeplab.run(make_spec("middle", search=GRID), runs_dir=runs)
    root = runs / "middle"
    before = record_bytes(root)
    journal = root / "optuna.log"
    lines = journal.read_bytes().splitlines(keepends=True)
    lines[len(lines) // 2] = b'{"op_code": 6, "trial_id\x00\x00\n'
    damaged = b"".join(lines)
    journal.write_bytes(damaged)
    with pytest.raises(StudyError, match=r"sweeplab doctor .*middle"):
        sweeplab.run(make_spec("middle", search=GRID), runs_dir=runs)
    assert journal.read_bytes() == damaged, "middle damage must not be cut"
    done = doctor(root)
    assert any("6 trial(s) told from their records" in line for line in done)
    assert [p.read_bytes() for p in root.glob("optuna.log.doctor-*")] == [damaged]
    sweeplab.run(make_spec("middle", search=GRID), runs_dir=runs)
    assert record_bytes(root) == before
    check_nothing_lost_or_twice(root, budget=6)


@pytest.mark.slow
def test_cli_resumes_a_torn_journal_and_doctor_prints_what_it_did(tmp_path: Path) -> None:
    spec = tmp_path / "cli.toml"
    spec.write_text(
        '[study]\nname = "cli"\nseed = 3\n[data]\ndataset = "iris"\n'
        "[params]\nunits = 8\nepochs = 2\n"
        '[search]\nstrategy = "random"\ntrials = 3\n[track]\ntensorboard = false\n'
    )
    sweeplab.run(spec, runs_dir=tmp_path / "runs")
    journal = tmp_path / "runs" / "cli" / "optuna.log"
    torn = _cut(journal, journal.stat().st_size - 37)[:-37]
    partial = len(torn) - (torn.rfind(b"\n") + 1)
    command = [sys.executable, "-m", "sweeplab"]
    run = [*command, "run", str(spec), "-q", "--set", "search.trials=4"]
    done = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert f"cut {partial} unreadable byte(s)" in done.stderr
    rebuilt = subprocess.run(
        [*command, "doctor", "runs/cli"], cwd=tmp_path, capture_output=True, text=True
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "4 trial(s) told from their records" in rebuilt.stdout
    check_nothing_lost_or_twice(tmp_path / "runs" / "cli", budget=4)


def test_an_unreadable_record_is_quarantined_and_its_trial_runs_again(runs: Path) -> None:
    from typer.testing import CliRunner

    from sweeplab.cli import app

    sweeplab.run(make_spec("damaged", search=GRID), runs_dir=runs)
    root = runs / "damaged"
    before = record_bytes(root)
    record = root / "trials" / "00002" / "record.json"
    broken = before["00002"][:-30]
    record.write_bytes(broken)
    for command in ("status", "report"):
        shown = CliRunner().invoke(app, [command, str(root)])
        assert shown.exit_code == 0, shown.output
        assert "1 trial record(s) could not be read (trial 2)" in shown.output
    assert (root / "quarantine" / "00002-record.json").read_bytes() == broken
    assert not record.exists()
    study = load_study(root)
    assert [d.number for d in study.damaged()] == [2]
    assert len(study.records()) == 5
    sweeplab.run(make_spec("damaged", search=GRID), runs_dir=runs)
    after = record_bytes(root)
    assert all(after[name] == text for name, text in before.items() if name != "00002")
    assert json.loads(after["00006"])["point_key"] == json.loads(before["00002"])["point_key"]
    check_nothing_lost_or_twice(root, budget=6, void=frozenset({2}))


def test_doctor_refuses_while_a_worker_is_alive_and_for_a_database(runs: Path) -> None:
    import socket

    from sweeplab.errors import RefusedError

    sweeplab.run(make_spec("busy", search={"trials": 1}), runs_dir=runs)
    root = runs / "busy"
    journal = (root / "optuna.log").read_bytes()
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        (root / "workers").mkdir(exist_ok=True)
        (root / "workers" / f"{socket.gethostname()}-{sleeper.pid}-0badcafe").touch()
        with pytest.raises(RefusedError, match="while no worker works"):
            doctor(root)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert (root / "optuna.log").read_bytes() == journal, "a refused doctor changes nothing"
    spec = root / "study.toml"
    spec.write_text(spec.read_text().replace("[study]\n", '[study]\nstorage = "sqlite:///x.db"\n'))
    with pytest.raises(RefusedError, match="restore the database from its backup"):
        doctor(root)


def test_a_dead_worker_not_yet_reaped_does_not_count_as_alive(tmp_path: Path) -> None:
    """A Ray actor that died with its node can linger as a zombie (no init reaps it):
    its heartbeat file stays and ``kill(pid, 0)`` still finds it, yet it is gone."""
    import os
    import socket
    import time

    from sweeplab.store import owner_alive

    child = subprocess.Popen(["sleep", "30"])
    try:
        owner = f"{socket.gethostname()}:{child.pid}:0badcafe"
        (tmp_path / "workers").mkdir()
        (tmp_path / "workers" / owner.replace(":", "-")).touch()
        assert owner_alive(tmp_path, owner)
        child.kill()
        deadline = time.time() + 10
        while os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            assert time.time() < deadline
            time.sleep(0.01)
        os.kill(child.pid, 0)  # exited but not reaped: still found
        assert not owner_alive(tmp_path, owner)
    finally:
        child.kill()
        child.wait()
