"""Storage outages: calls retried while the database is away; a real PostgreSQL restart."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
from sqlalchemy import exc as sa_exc

from sweeplab.store import _retry as retry
from sweeplab.store._retry import RetryingRDBStorage
from tests.postgres import postgres_server
from tests.test_scale import _sweeplab

QUADRATIC = Path(__file__).parent / "compat" / "objectives" / "quadratic.py"


@pytest.mark.slow
def test_workers_ride_out_a_postgresql_restart(tmp_path: Path) -> None:
    # Optuna's quadratic (50 ms a trial): the processes call the storage many times a
    # second, so the outage is met, and the study outlasts it. Storage calls run under
    # the claim lock, so one process may meet it while the other waits on the lock: the
    # worker's warnings are relayed to this command's stderr when it exits.
    budget = 80
    with postgres_server() as server:
        sets = [f"search.trials={budget}", "track.tensorboard=false"]
        sets += [f'study.storage="{server.url}"', 'study.name="outage"']
        args = ["run", "--objective", f"{QUADRATIC}:objective", "--workers", "2", "-q"]
        proc = _sweeplab(tmp_path, *args, *[a for s in sets for a in ("--set", s)])
        trials = tmp_path / "runs" / "outage" / "trials"
        deadline = time.time() + 120
        while time.time() < deadline and len(list(trials.glob("*/record.json"))) < 10:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.05)
        server.stop()
        assert len(list(trials.glob("*/record.json"))) < budget, "the outage came too late"
        time.sleep(3)  # every storage call in these seconds fails: connection refused
        server.start()
        assert proc.wait(timeout=300) == 0, proc.stderr.read().decode() if proc.stderr else ""
        assert proc.stderr is not None
        message = proc.stderr.read().decode()
        assert "Traceback" not in message
        assert "storage connection lost" in message
        assert "storage reachable again" in message
        numbers = sorted(json.loads(p.read_text())["number"] for p in trials.glob("*/record.json"))
        assert len(numbers) == budget
        assert len(set(numbers)) == budget, "no trial recorded twice"
        stored = optuna.load_study(
            study_name="outage", storage=optuna.storages.RDBStorage(server.url)
        ).get_trials()
        states = {t.number: t.state for t in stored}
        done = sorted(n for n, state in states.items() if state.name == "COMPLETE")
        assert done == numbers, "the storage's finished trials are exactly the recorded ones"
        assert "RUNNING" not in {state.name for state in states.values()}


class _LostConnection:
    """A session whose every query fails as a dropped database connection does."""

    def __getattr__(self, name: str) -> Any:
        if name in ("rollback", "close"):
            return lambda *args, **kwargs: None

        def fail(*args: Any, **kwargs: Any) -> None:
            cause = Exception("server closed the connection unexpectedly")
            raise sa_exc.OperationalError("SELECT 1", {}, cause)

        return fail


def _flaky(storage: RetryingRDBStorage, failures: int) -> list[int]:
    """Make the next ``failures`` sessions of ``storage`` lose their connection."""
    real = storage.scoped_session
    left = [failures]

    def session() -> Any:
        if left[0] > 0:
            left[0] -= 1
            return _LostConnection()
        return real()

    session.remove = real.remove  # type: ignore[attr-defined]
    storage.scoped_session = session  # type: ignore[assignment]
    return left


def test_storage_calls_are_retried_with_one_line_each_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(retry, "_FIRST_DELAY_S", 0.01)
    storage = RetryingRDBStorage(f"sqlite:///{tmp_path / 'r.db'}")
    study = optuna.create_study(study_name="r", storage=storage)
    left = _flaky(storage, 3)
    with caplog.at_level(logging.WARNING):
        trial = study.ask()
        study.tell(trial, 1.5)
    assert left == [0]
    lines = [r.getMessage() for r in caplog.records if r.name == "sweeplab.store._retry"]
    assert len(lines) == 2
    assert lines[0].startswith("storage connection lost")
    assert "server closed the connection" in lines[0]
    assert lines[1].startswith("storage reachable again after")
    assert [t.value for t in study.get_trials()] == [1.5]


def test_a_storage_that_stays_away_raises_after_the_retry_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retry, "_FIRST_DELAY_S", 0.01)
    monkeypatch.setattr(retry, "RETRY_FOR_S", 0.1)
    storage = RetryingRDBStorage(f"sqlite:///{tmp_path / 'r.db'}")
    _flaky(storage, 10**6)
    start = time.monotonic()
    with pytest.raises(optuna.exceptions.StorageInternalError):
        storage.get_all_studies()
    assert time.monotonic() - start < 5


def test_opening_waits_for_a_database_that_is_away(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A worker that starts during a restart must wait for the database, not die.
    monkeypatch.setattr(retry, "_FIRST_DELAY_S", 0.01)
    real_init = RetryingRDBStorage.__init__
    refused = [2]

    def init(self: RetryingRDBStorage, *args: Any, **kwargs: Any) -> None:
        if refused[0] > 0:
            refused[0] -= 1
            raise sa_exc.OperationalError("connect", {}, Exception("Connection refused"))
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(RetryingRDBStorage, "__init__", init)
    with caplog.at_level(logging.WARNING):
        storage = retry.open_rdb(f"sqlite:///{tmp_path / 'r.db'}")
    assert refused == [0]
    assert storage.get_all_studies() == []
    lines = [r.getMessage() for r in caplog.records if r.name == "sweeplab.store._retry"]
    assert lines[0].startswith("storage connection lost in opening the storage")
    assert lines[1].startswith("storage reachable again")
