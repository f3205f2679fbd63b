"""Engine tests run with the built-in step costs, never this machine's calibration,
so what they plan does not depend on the machine (the calibration has its own tests)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_calibration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEEPLAB_CALIBRATION", "off")
