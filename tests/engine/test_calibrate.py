"""The per-machine calibration: fitted from timings, cached, read back, keyed (nothing timed)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import torch

from sweeplab.engine import _calibrate, plan_groups, step_overhead
from sweeplab.engine._calibrate import DEFAULT, Calibration, calibration, fit, step_work

CPU = torch.device("cpu")


def test_fit_finds_the_crossover_and_the_cost_line() -> None:
    points = []
    for work in (1e6, 1e7, 1e8, 1e9):
        one = 1e-3 + work / 1e10
        many = (3e-3 + work / 2e10) if work >= 1e8 else one * 2
        points += [(work, 1, one), (work, 2, many)]
    c = fit("k", points, 2)
    assert c.small_step == pytest.approx(math.sqrt(1e7 * 1e8))
    assert c.overhead_s > 0
    assert c.rate > 0
    one_thread = fit("k", [(w, n, t) for w, n, t in points if n == 1], 1)
    assert one_thread.small_step == math.inf
    assert one_thread.overhead_s == pytest.approx(1e-3, rel=1e-6)
    assert one_thread.rate == pytest.approx(1e10, rel=1e-6)


def _wins(pattern: str) -> list[tuple[float, int, float]]:
    points: list[tuple[float, int, float]] = []
    for i, won in enumerate(pattern):
        work = 10.0 ** (6 + i)
        points += [(work, 1, 1.0), (work, 2, 0.5 if won == "w" else 2.0)]
    return points


def test_one_noisy_timing_does_not_decide_the_crossover() -> None:
    # a lone loss among wins does not push the crossover up ...
    assert fit("k", _wins("lwlww"), 2).small_step == pytest.approx(math.sqrt(1e6 * 1e7))
    # ... and a lone win among losses does not pull it down
    assert fit("k", _wins("lwlllww"), 2).small_step == pytest.approx(math.sqrt(1e10 * 1e11))
    assert fit("k", _wins("lllw"), 2).small_step == pytest.approx(math.sqrt(1e8 * 1e9))


@pytest.fixture
def measured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[int]:
    monkeypatch.setenv("SWEEPLAB_CALIBRATION", "on")
    monkeypatch.setenv("SWEEPLAB_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_calibrate, "_memo", {})
    monkeypatch.setattr(_calibrate, "other_load", lambda: 0.0)
    calls: list[int] = []

    def fake() -> Calibration:
        calls.append(1)
        return Calibration(_calibrate._machine_key(), 1e7, 1e-3, 1e9, 2, ((1e6, 1, 2e-3),))

    monkeypatch.setattr(_calibrate, "measure", fake)
    return calls


def test_calibration_is_measured_once_then_read_from_the_cache(
    measured: list[int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = calibration(CPU)
    assert measured == [1]
    files = list(tmp_path.glob("calibration-*.json"))
    assert len(files) == 1
    monkeypatch.setattr(_calibrate, "_memo", {})
    again = calibration(CPU)
    assert measured == [1]
    assert again == first
    assert step_overhead(CPU) == pytest.approx(1e-3 * 1e9)


def test_an_infinite_crossover_survives_the_cache(
    measured: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = _calibrate._machine_key()
    monkeypatch.setattr(_calibrate, "measure", lambda: Calibration(key, math.inf, 1e-3, 1e9, 1))
    calibration(CPU)
    monkeypatch.setattr(_calibrate, "_memo", {})
    assert calibration(CPU).small_step == math.inf


def test_a_busy_calibration_is_cached_until_the_machine_is_quiet(
    measured: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_calibrate, "other_load", lambda: 1.5)
    assert calibration(CPU).busy
    monkeypatch.setattr(_calibrate, "_memo", {})
    assert calibration(CPU).busy
    assert measured == [1]
    monkeypatch.setattr(_calibrate, "other_load", lambda: 0.0)
    monkeypatch.setattr(_calibrate, "_memo", {})
    assert not calibration(CPU).busy
    assert measured == [1, 1]
    monkeypatch.setattr(_calibrate, "_memo", {})
    assert not calibration(CPU).busy
    assert measured == [1, 1]


def test_the_key_changes_with_the_torch_version(monkeypatch: pytest.MonkeyPatch) -> None:
    key = _calibrate._machine_key()
    monkeypatch.setattr(torch, "__version__", "0.0.1")
    assert _calibrate._machine_key() != key


def test_off_and_other_devices_use_the_constants(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEEPLAB_CALIBRATION", "off")
    assert calibration(CPU) is DEFAULT
    assert calibration(torch.device("meta")) is DEFAULT


def test_planner_follows_the_measured_overhead(
    measured: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A costly fixed step makes fusing a narrow and a wide member pay; a free one does not."""
    from sweeplab.engine import MemberSpec

    members = [MemberSpec(units=(512, 512), batch_size=8), MemberSpec(units=(16, 16), batch_size=8)]
    key = _calibrate._machine_key()
    for overhead, fused in ((1e-9, False), (1.0, True)):
        monkeypatch.setattr(_calibrate, "_memo", {key: Calibration(key, 1e7, overhead, 1e10, 2)})
        groups = plan_groups(members, 784, 10, CPU)
        assert (len(groups) == 1) is fused


def test_step_work_counts_forward_backward_and_update() -> None:
    dims = [4, 3, 2]
    assert step_work(2, 5, dims) == 2 * (3 * 5 * (12 + 6) + 8 * (12 + 6 + 3 + 2))


def test_measure_times_every_shape_with_each_thread_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_calibrate, "SHAPES", ((1, 2, 4), (2, 2, 8)))
    monkeypatch.setattr(_calibrate, "_STEPS", 1)
    monkeypatch.setattr(_calibrate, "_REPEATS", 1)
    monkeypatch.setattr(_calibrate, "_MIN_S", 0.0)
    c = _calibrate.measure()
    counts = sorted({1, torch.get_num_threads()})
    assert len(c.points) == 2 * len(counts)
    assert all(t > 0 for _, _, t in c.points)
    assert c.rate > 0


def test_measure_times_busy_lanes_with_probe_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """With two threads or more, each size is also timed while probe processes run it."""
    monkeypatch.setattr(_calibrate, "SHAPES", ((1, 2, 4), (2, 2, 8)))
    monkeypatch.setattr(_calibrate, "_STEPS", 1)
    monkeypatch.setattr(_calibrate, "_REPEATS", 1)
    monkeypatch.setattr(_calibrate, "_MIN_S", 0.0)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        c = _calibrate.measure()
    finally:
        torch.set_num_threads(before)
    if os.name != "posix" or (os.cpu_count() or 1) < 2:
        assert c.lanes == 0
        return
    assert c.lanes == 2
    assert [w for w, _ in c.lane_points] == sorted({w for w, _, _ in c.points})
    assert all(t > 0 for _, t in c.lane_points)
