"""A PostgreSQL server restarted mid-study: workers wait for it and lose or repeat nothing."""

from __future__ import annotations

import time
from pathlib import Path

import optuna
import pytest

from tests.postgres import postgres_server
from tests.test_scale import _check, _sweeplab, _write


@pytest.mark.slow
def test_workers_ride_out_a_postgresql_restart(tmp_path: Path) -> None:
    with postgres_server() as server:
        path = _write(tmp_path, "outage", "digits", epochs=10, storage=f'storage = "{server.url}"')
        proc = _sweeplab(tmp_path, "run", str(path), "--workers", "2", "-q")
        trials = tmp_path / "runs" / "outage" / "trials"
        deadline = time.time() + 120
        while time.time() < deadline and len(list(trials.glob("*/record.json"))) < 2:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.1)
        server.stop()
        time.sleep(3)  # every storage call in these seconds fails: connection refused
        server.start()
        assert proc.wait(timeout=300) == 0, proc.stderr.read().decode() if proc.stderr else ""
        assert proc.stderr is not None
        message = proc.stderr.read().decode()
        assert "Traceback" not in message
        assert "storage connection lost" in message
        assert "storage reachable again" in message
        _check(trials.parent, optuna.storages.RDBStorage(server.url), budget=12)
