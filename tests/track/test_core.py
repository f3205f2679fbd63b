"""The tracker plumbing: async ordering, the event log, missing extras, the spec."""

from __future__ import annotations

import importlib.util
import json
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sweeplab.cli import app
from sweeplab.errors import MissingExtraError, SpecError
from sweeplab.store import Study, TrialRecord
from sweeplab.track import AsyncTracker, EventLogTracker, Tracker, make_trackers, read_live
from tests.conftest import make_spec


class _Slow(Tracker):
    def __init__(self, gate: threading.Event) -> None:
        self.gate = gate
        self.seen: list[tuple[str, int]] = []
        self.closed = False

    def trial_started(self, number: int, params: Mapping[str, Any], seed: int) -> None:
        self.gate.wait(5)
        self.seen.append(("start", number))

    def epoch_logged(self, number: int, row: Mapping[str, float]) -> None:
        if row["epoch"] == 2:
            raise ValueError("boom")
        self.seen.append(("epoch", int(row["epoch"])))

    def log_trial(self, record: TrialRecord, curves: list[dict[str, float]]) -> None:
        self.seen.append(("end", record.number))

    def close(self) -> None:
        self.closed = True


def test_async_tracker_never_blocks_keeps_order_and_survives_errors() -> None:
    gate = threading.Event()
    inner = _Slow(gate)
    tracker = AsyncTracker(lambda: inner, "slow")
    start = time.perf_counter()
    tracker.trial_started(0, {"lr": 0.1}, 1)
    for epoch in (1, 2, 3):
        tracker.epoch_logged(0, {"epoch": float(epoch)})
    tracker.log_trial(TrialRecord(number=0, state="complete", params={}, seed=1), [])
    assert time.perf_counter() - start < 0.5
    assert inner.seen == []
    gate.set()
    tracker.close()
    assert inner.seen == [("start", 0), ("epoch", 1), ("epoch", 3), ("end", 0)]
    assert inner.closed
    with pytest.raises(RuntimeError, match="must be open"):
        tracker.epoch_logged(0, {"epoch": 4.0})


def test_a_tracker_that_cannot_start_is_disabled(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> Tracker:
        raise OSError("no disk")

    tracker = AsyncTracker(broken, "broken")
    tracker.epoch_logged(0, {"epoch": 1.0})
    tracker.close()
    assert "broken: tracking disabled: no disk" in caplog.text


def test_event_log_and_live_trials(tmp_path: Path) -> None:
    log = EventLogTracker(tmp_path)
    log.trial_started(4, {"lr": 0.1}, 9)
    log.epoch_logged(4, {"epoch": 1.0, "val_accuracy": 0.5})
    log.trial_started(5, {"lr": 0.2}, 10)
    log.log_trial(TrialRecord(number=5, state="pruned", params={}, seed=10), [])
    (live,) = read_live(tmp_path)
    assert live.number == 4
    assert live.last == {"epoch": 1.0, "val_accuracy": 0.5}
    log.close()
    lines = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [x["event"] for x in lines] == ["start", "epoch", "start", "end"]
    assert lines[0]["pid"] == os.getpid()
    dead = dict(lines[0], trial=6, pid=2**22 + 12345)
    with (tmp_path / "events.jsonl").open("a") as fh:
        fh.write(json.dumps(dead) + "\n")
    assert [t.number for t in read_live(tmp_path)] == [4]


def test_the_run_writes_the_event_log(runs: Path) -> None:
    import sweeplab

    study = sweeplab.run(make_spec("events", search={"trials": 2}), runs_dir=runs)
    events = [json.loads(x) for x in (study.dir.root / "events.jsonl").read_text().splitlines()]
    starts = {e["trial"] for e in events if e["event"] == "start"}
    ends = {e["trial"]: e["state"] for e in events if e["event"] == "end"}
    assert starts == set(ends) == {0, 1}
    epochs = [e["row"]["epoch"] for e in events if e["event"] == "epoch" and e["trial"] == 0]
    assert epochs == [1.0, 2.0]
    assert read_live(study.dir.root) == []
    assert isinstance(study, Study)


def _hide(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    real = importlib.util.find_spec

    def find_spec(module: str, *args: Any) -> Any:
        return None if module == name else real(module, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


@pytest.mark.parametrize(
    ("key", "value", "extra"), [("mlflow", True, "mlflow"), ("wandb", "offline", "wandb")]
)
def test_missing_extra_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, key: str, value: Any, extra: str
) -> None:
    _hide(monkeypatch, extra)
    spec = make_spec("x", track={key: value})
    with pytest.raises(MissingExtraError, match=rf"pip install 'sweeplab\[{extra}\]'"):
        make_trackers(spec, tmp_path, 4, 3)
    study_file = tmp_path / "s.toml"
    study_file.write_text(f'[study]\nname = "x"\n[track]\n{key} = {json.dumps(value)}\n')
    result = CliRunner().invoke(app, ["run", str(study_file), "--runs-dir", str(tmp_path / "r")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert f"pip install 'sweeplab[{extra}]'" in lines[0]


@pytest.mark.parametrize(
    ("track", "message"),
    [
        ({"wandb": "cloud"}, 'track.wandb must be false, true, "offline" or "online", but got'),
        ({"mlflow": ""}, "track.mlflow must be true, false or a tracking URI, but got ''"),
        ({"mlflow": 3}, "track.mlflow must be true, false or a tracking URI, but got 3"),
        ({"project": "a/b"}, "track.project must be a non-empty name without '/'"),
    ],
)
def test_track_spec_errors(track: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as info:
        make_spec("x", track=track)
    assert str(info.value).startswith(message)


def test_track_spec_values() -> None:
    assert make_spec("x", track={"wandb": True}).track.wandb == "offline"
    assert make_spec("x", track={"wandb": "online"}).track.wandb == "online"
    assert make_spec("x", track={"mlflow": "http://h:5000"}).track.mlflow == "http://h:5000"
    assert make_spec("x").track.mlflow is False
