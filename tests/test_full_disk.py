"""A full disk stops a study cleanly and the same command resumes once space is freed."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

import sweeplab
from sweeplab.cli import app
from sweeplab.errors import DiskFullError
from sweeplab.store import open_journal
from tests.conftest import make_spec
from tests.test_faults import GRID, check_nothing_lost_or_twice, record_bytes

STUDY = """
[study]
name = "full"
seed = 3
[data]
dataset = "iris"
[params]
units = 8
epochs = 3
[search]
strategy = "grid"
[search.space]
lr = [1e-3, 1e-2, 1e-1]
batch_size = [8, 16, 32]
[track]
tensorboard = false
"""


def _no_half_written_files(root: Path) -> None:
    """No temp file is left, and every JSON file in the study reads whole."""
    assert not list(root.rglob("*.tmp")), "a temp file was left behind"
    for path in root.rglob("*.json"):
        json.loads(path.read_text())


def _free(path: Path) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted for the test (needs root and mount(8); skipped otherwise)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a real full disk needs a tmpfs, and mounting one needs root and mount(8)")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_real_full_disk_stops_cleanly_and_the_same_command_resumes(
    tmp_path: Path, small_disk: Path
) -> None:
    spec = tmp_path / "full.toml"
    spec.write_text(STUDY)
    # How much the whole study writes on this file system, measured on it.
    before = _free(small_disk)
    sweeplab.run(spec, runs_dir=small_disk / "reference")
    needed = before - _free(small_disk)
    shutil.rmtree(small_disk / "reference")
    # Leave room for about half of it.
    with (small_disk / "ballast").open("wb") as fh:
        fh.write(b"\0" * (_free(small_disk) - needed // 2))
    runs = small_disk / "runs"
    command = ["run", str(spec), "--runs-dir", str(runs), "-q"]
    stopped = CliRunner().invoke(app, command)
    root = runs / "full"
    assert stopped.exit_code == DiskFullError.exit_code, stopped.output
    assert "but it is full" in stopped.output
    assert "run the same command again to resume" in stopped.output
    assert "Traceback" not in stopped.output
    _no_half_written_files(root)
    kept = record_bytes(root)
    assert len(kept) < 9
    (small_disk / "ballast").unlink()
    resumed = CliRunner().invoke(app, command)
    assert resumed.exit_code == 0, resumed.output
    after = record_bytes(root)
    assert all(after[name] == text for name, text in kept.items()), "a kept record changed"
    check_nothing_lost_or_twice(root, budget=9)


@pytest.mark.parametrize("writes", [2, 5, 9, 14, 21])
def test_disk_full_at_any_write_loses_and_repeats_nothing(
    runs: Path, monkeypatch: pytest.MonkeyPatch, writes: int
) -> None:
    """ENOSPC injected at the n-th fsync: of a record, the summary or the journal."""
    spec = make_spec("injected", search=GRID)
    calls: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) >= writes:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(DiskFullError, match="but it is full"):
        sweeplab.run(spec, runs_dir=runs)
    monkeypatch.setattr(os, "fsync", real_fsync)
    root = runs / "injected"
    _no_half_written_files(root)
    kept = record_bytes(root)
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(root / "optuna.log"))
    )
    if [s for s in storage.get_all_studies() if s.study_name == "injected"]:
        trials = optuna.load_study(study_name="injected", storage=storage).get_trials()
        running = [t.number for t in trials if t.state == optuna.trial.TrialState.RUNNING]
        assert not running, "the group in flight must be marked interrupted"
    sweeplab.run(spec, runs_dir=runs)
    after = record_bytes(root)
    assert all(after[name] == text for name, text in kept.items())
    check_nothing_lost_or_twice(root, budget=6)


def test_giving_back_never_appends_after_a_partial_journal_entry(runs: Path) -> None:
    from sweeplab.study._rebuild import give_back

    sweeplab.run(make_spec("partial", search={"trials": 1}), runs_dir=runs)
    journal = runs / "partial" / "optuna.log"
    storage = open_journal(journal)  # sweeplab's flock lock, as the runner holds it
    study = optuna.load_study(study_name="partial", storage=storage)
    for _ in range(2):
        study.add_trial(
            optuna.trial.create_trial(
                state=optuna.trial.TrialState.RUNNING, user_attrs={"sweeplab.owner": "me"}
            )
        )
    with journal.open("ab") as fh:
        fh.write(b'{"op_code": 6, "tri')  # an append the full disk cut short
    torn = journal.read_bytes()
    give_back(study, "me", journal)
    assert journal.read_bytes() == torn, "nothing may be appended after a partial entry"
    journal.write_bytes(torn[: torn.rfind(b"\n") + 1])
    give_back(study, "me", journal)
    states = [t.state for t in optuna.load_study(study_name="partial", storage=storage).trials]
    assert states[1:] == [optuna.trial.TrialState.FAIL] * 2
