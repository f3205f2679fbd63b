"""CPU thread choice and device settings."""

from __future__ import annotations

import pytest
import torch

from sweeplab.engine import _device
from sweeplab.engine._device import SMALL_STEP, configure_device, cpu_threads, thread_count


def test_small_steps_use_one_thread() -> None:
    assert thread_count(SMALL_STEP / 10, default=8) == 1


def test_large_steps_use_the_cores_left_free(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_device.os, "cpu_count", lambda: 16)
    monkeypatch.setattr(_device.os, "getloadavg", lambda: (0.2, 0.0, 0.0))
    assert thread_count(SMALL_STEP * 100, default=16) == 16
    monkeypatch.setattr(_device.os, "getloadavg", lambda: (12.0, 0.0, 0.0))
    assert thread_count(SMALL_STEP * 100, default=16) == 5
    monkeypatch.setattr(_device.os, "getloadavg", lambda: (40.0, 0.0, 0.0))
    assert thread_count(SMALL_STEP * 100, default=16) == 1


def test_cpu_threads_restores_the_thread_count() -> None:
    before = torch.get_num_threads()
    with cpu_threads(torch.device("cpu"), SMALL_STEP / 10) as n:
        assert n == 1
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_configure_device_changes_nothing_on_cpu() -> None:
    assert configure_device(torch.device("cpu")) == {}
