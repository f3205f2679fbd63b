"""Shared fixtures: small, fast study specs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sweeplab.spec import StudySpec, spec_from_dict


def make_spec(name: str = "t", **sections: dict[str, Any]) -> StudySpec:
    """A tiny iris study; keyword arguments patch its sections."""
    raw: dict[str, Any] = {
        "study": {"name": name, "seed": 3},
        "data": {"dataset": "iris"},
        "params": {"units": 8, "epochs": 3, "batch_size": 16, "lr": 1e-2},
        "search": {"strategy": "random", "trials": 4},
        "track": {"tensorboard": False},
    }
    for key, patch in sections.items():
        raw[key] = {**raw.get(key, {}), **patch}
    return spec_from_dict(raw)


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    path = tmp_path / "runs"
    path.mkdir()
    return path
