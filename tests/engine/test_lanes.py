"""Lanes: latency-bound groups in worker processes train exactly as alone, and stop cleanly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from sweeplab.engine import GroupData, LaneJob, MemberResult, MemberSpec, train_group
from sweeplab.engine import _lanes as lanes_module
from sweeplab.engine._calibrate import Calibration
from sweeplab.engine._lanes import lane_groups, train_in_lanes
from tests.engine._helpers import assert_same


def _data() -> GroupData:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(240, 12, generator=gen)
    y = (x[:, 0] * 3).long().clamp(max=2)
    return GroupData.from_tensors([x[:160], y[:160], x[160:200], y[160:200], x[200:], y[200:]], 3)


def _groups() -> list[list[MemberSpec]]:
    return [
        [MemberSpec(units=(8,), batch_size=8, epochs=3, seed=s, lr=1e-2) for s in (1, 2)],
        [MemberSpec(units=(16, 4), batch_size=4, epochs=2, seed=3, optimizer="sgd")],
        [MemberSpec(units=(6,), batch_size=16, epochs=4, seed=4, dropout=0.2)],
    ]


def _children() -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        text = (task / "children").read_text().split()
        found |= {int(pid) for pid in text}
    return found


@pytest.mark.skipif(os.name != "posix", reason="lanes run on POSIX only")
def test_groups_in_lanes_equal_training_alone_with_one_thread() -> None:
    data = _data()
    groups = _groups()
    got: dict[tuple[int, int], MemberResult] = {}
    epochs: list[tuple[int, int]] = []

    def job(g: int) -> LaneJob:
        def on_epoch(epoch: int, reports: dict[int, dict[str, float]]) -> list[int]:
            epochs.append((g, epoch))
            return []

        def on_end(m: int, result: MemberResult) -> None:
            got[(g, m)] = result

        return LaneJob(groups[g], on_epoch, on_end)

    before = _children()
    assert train_in_lanes([job(g) for g in range(3)], data, lanes=2) == []
    assert _children() == before  # every worker stopped
    for g, members in enumerate(groups):
        alone = train_group(members, data, threads=1)
        for m, result in enumerate(alone):
            assert got[(g, m)].threads == 1
            assert_same(got[(g, m)], result, tol=0.0)
    assert sorted(e for e in epochs if e[0] == 2) == [(2, 1), (2, 2), (2, 3)]


@pytest.mark.skipif(os.name != "posix", reason="lanes run on POSIX only")
def test_pruning_is_decided_by_the_parent() -> None:
    data = _data()
    members = _groups()[0]
    ended: dict[int, MemberResult] = {}
    job = LaneJob(members, lambda epoch, reports: [1] if epoch == 1 else [], ended.__setitem__)
    train_in_lanes([job, LaneJob(_groups()[2])], data, lanes=2)
    assert ended[1].state == "pruned"
    assert ended[1].epochs == 1
    assert ended[0].state == "complete"
    assert ended[0].epochs == 3


@pytest.mark.skipif(os.name != "posix", reason="lanes run on POSIX only")
def test_a_failing_group_fails_alone_and_stop_skips_the_rest() -> None:
    data = _data()
    errors: list[str] = []
    ended: list[int] = []
    bad = [MemberSpec(units=(4,), optimizer="nope", batch_size=8, epochs=1)]
    jobs = [
        LaneJob(bad, on_error=errors.append),
        LaneJob(_groups()[2], on_end=lambda m, r: ended.append(m)),
        LaneJob(_groups()[1]),
        LaneJob(_groups()[0]),
    ]
    calls = iter([False, False, True])
    skipped = train_in_lanes(jobs, data, lanes=1, stop=lambda: next(calls, True))
    assert len(errors) == 1
    assert "optimizer" in errors[0]
    assert ended == [0]
    assert skipped == [2, 3]


@pytest.mark.skipif(os.name != "posix", reason="lanes run on POSIX only")
def test_an_exception_in_a_callback_stops_every_worker() -> None:
    data = _data()
    before = _children()

    def on_epoch(epoch: int, reports: dict[int, dict[str, float]]) -> list[int]:
        raise KeyboardInterrupt

    jobs = [LaneJob(_groups()[0], on_epoch), LaneJob(_groups()[2])]
    with pytest.raises(KeyboardInterrupt):
        train_in_lanes(jobs, data, lanes=2)
    assert _children() == before


def _calibration(gains: list[float], threads: int = 2) -> Calibration:
    """Points at four sizes where ``threads`` threads take ``one / 1.5`` and a busy
    lane takes ``threads * many / gain`` (so lanes are ``gain`` times faster)."""
    works = [1e6, 1e7, 1e8, 1e9]
    points, lane_points = [], []
    for w, g in zip(works, gains, strict=True):
        one = 2e-4 + w / 3e10
        many = one / 1.5
        points += [(w, 1, one), (w, threads, many)]
        lane_points.append((w, threads * many / g))
    lanes = threads if threads > 1 else 0
    return Calibration(
        "test", 1e7, 2e-4, 3e10, threads, tuple(points), False, lanes, tuple(lane_points)
    )


def test_lane_groups_takes_the_groups_a_second_thread_does_not_speed_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    big = [MemberSpec(units=(512, 512), batch_size=256, epochs=5, seed=s) for s in range(8)]
    small = [MemberSpec(units=(256, 256), batch_size=b, epochs=5) for b in (4, 8, 16)]
    groups = [big, *[[m] for m in small]]
    cal = _calibration([1.8, 1.8, 1.6, 1.05])
    monkeypatch.setattr(lanes_module, "calibration", lambda device: cal)
    monkeypatch.setattr(lanes_module, "other_load", lambda: 0.0)
    monkeypatch.setattr(lanes_module.os, "cpu_count", lambda: 2)
    cpu = torch.device("cpu")
    lanes, chosen = lane_groups(groups, 784, 10, 52_500, cpu)
    assert lanes == 2
    assert chosen == [1, 2, 3]  # the 8-member group scales; longest (batch 4) first
    assert lane_groups(groups, 784, 10, 52_500, cpu) == (lanes, chosen)  # deterministic
    # a few seconds of work does not pay for starting workers
    assert lane_groups(groups, 784, 10, 500, cpu) == (0, [])
    # another process (a second worker of the study) keeps a core busy: no lanes
    monkeypatch.setattr(lanes_module, "other_load", lambda: 1.0)
    assert lane_groups(groups, 784, 10, 52_500, cpu) == (0, [])
    monkeypatch.setattr(lanes_module, "other_load", lambda: 0.0)
    # lanes that gain nothing, one thread, or lanes never measured: no lanes
    monkeypatch.setattr(lanes_module, "calibration", lambda d: _calibration([1.05] * 4))
    assert lane_groups(groups, 784, 10, 52_500, cpu) == (0, [])
    monkeypatch.setattr(lanes_module, "calibration", lambda d: _calibration([2.0] * 4, 1))
    assert lane_groups(groups, 784, 10, 52_500, cpu) == (0, [])
    unmeasured = Calibration("old", 1e7, 2e-4, 3e10, 2, cal.points)
    monkeypatch.setattr(lanes_module, "calibration", lambda d: unmeasured)
    assert lane_groups(groups, 784, 10, 52_500, cpu) == (0, [])
    assert lane_groups(groups, 784, 10, 52_500, torch.device("meta")) == (0, [])


def test_lane_groups_without_a_calibration_uses_none() -> None:
    groups = [[MemberSpec(units=(256, 256), batch_size=b, epochs=5)] for b in (4, 8)]
    assert lane_groups(groups, 784, 10, 52_500, torch.device("cpu")) == (0, [])
