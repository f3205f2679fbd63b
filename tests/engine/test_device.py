"""CPU thread choice, denormal flushing and device settings."""

from __future__ import annotations

import pytest
import torch

from sweeplab.engine import _device
from sweeplab.engine._device import (
    SMALL_STEP,
    configure_device,
    cpu_threads,
    flush_denormals,
    other_load,
    thread_count,
)


def test_small_steps_use_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_device.os, "cpu_count", lambda: 8)
    monkeypatch.setattr(_device, "other_load", lambda: 0.0)
    assert thread_count(SMALL_STEP / 10, default=8) == 1
    assert thread_count(100.0, default=8, small_step=50.0) == 8
    assert thread_count(40.0, default=8, small_step=50.0) == 1


def test_large_steps_use_the_cores_other_processes_leave_free(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_device.os, "cpu_count", lambda: 16)
    monkeypatch.setattr(_device, "other_load", lambda: 0.2)
    assert thread_count(SMALL_STEP * 100, default=16) == 16
    monkeypatch.setattr(_device, "other_load", lambda: 11.0)
    assert thread_count(SMALL_STEP * 100, default=16) == 5
    monkeypatch.setattr(_device, "other_load", lambda: 40.0)
    assert thread_count(SMALL_STEP * 100, default=16) == 1
    monkeypatch.setattr(_device, "other_load", lambda: None)
    assert thread_count(SMALL_STEP * 100, default=16) == 16
    assert thread_count(SMALL_STEP * 100, default=16, small_step=float("inf")) == 1


def test_other_load_leaves_out_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's runnable threads less this process's: its own busy threads
    must not count (they did with the load average, and a study throttled itself)."""
    monkeypatch.setattr(_device, "_running_here", lambda: 3)
    real = _device.Path

    class FakeLoadavg:
        def __init__(self, path: str) -> None:
            self.path = path

        def read_text(self) -> str:
            assert self.path == "/proc/loadavg"
            return "9.0 8.0 7.0 4/300 1234\n"

    monkeypatch.setattr(_device, "Path", FakeLoadavg)
    assert other_load(samples=2, pause=0.0) == 1.0
    monkeypatch.setattr(_device, "_running_here", lambda: 6)
    assert other_load(samples=1) == 0.0
    monkeypatch.setattr(_device, "Path", real)


def test_running_here_counts_this_process() -> None:
    if not _device.Path("/proc/self/task").is_dir():
        pytest.skip("no /proc")
    own = _device._running_here()
    assert own is not None
    assert own >= 1  # this thread is running while it reads
    load = other_load(samples=2, pause=0.0)
    assert load is not None
    assert load >= 0


def test_cpu_threads_restores_the_thread_count() -> None:
    before = torch.get_num_threads()
    with cpu_threads(torch.device("cpu"), SMALL_STEP / 10) as n:
        assert n == 1
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_cpu_threads_uses_an_explicit_count() -> None:
    before = torch.get_num_threads()
    with cpu_threads(torch.device("cpu"), SMALL_STEP / 10, threads=2) as n:
        assert n == 2
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == before


def _denormal_survives() -> bool:
    tiny = torch.tensor([1e-30], dtype=torch.float32)
    return bool((tiny * 1e-10).item() != 0.0)


def test_flush_denormals_flushes_in_the_block_and_restores() -> None:
    assert _denormal_survives()
    with flush_denormals(torch.device("cpu")):
        assert not _denormal_survives()
    assert _denormal_survives()
    torch.set_flush_denormal(True)
    try:
        with flush_denormals(torch.device("cpu")):
            assert not _denormal_survives()
        assert not _denormal_survives()
    finally:
        torch.set_flush_denormal(False)


def test_configure_device_changes_nothing_on_cpu() -> None:
    assert configure_device(torch.device("cpu")) == {}
