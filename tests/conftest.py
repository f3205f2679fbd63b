"""Shared fixtures: small, fast study specs."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from sweeplab.spec import StudySpec, spec_from_dict
from sweeplab.store import Study, StudyDir, TrialRecord, write_json, write_text, write_trial

# Group planning and thread counts follow a per-machine calibration; tests plan with the
# engine's built-in constants so groups do not depend on the machine (subprocesses inherit it).
# tests/engine/test_calibrate.py covers the calibration itself.
os.environ.setdefault("SWEEPLAB_CALIBRATION", "off")


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


def fake_study(
    root: Path,
    name: str,
    values: list[float],
    *,
    objective: str = "val_accuracy",
    n_val: int | None = 300,
    ses: list[float] | None = None,
    folds: int = 0,
) -> Study:
    """A study directory written by hand: trial i has ``lr = 0.1 / (i + 1)`` and ``values[i]``.

    ``ses`` become ``objective_se`` (with ``folds`` per-fold entries); ``n_val``
    goes into provenance.json only, as before the runner filled the records'.
    """
    spec = make_spec(
        name,
        study={"objective": objective},
        search={"trials": len(values), "space": {"lr": {"low": 1e-3, "high": 1.0, "log": True}}},
    )
    folder = StudyDir(root / name)
    folder.trials.mkdir(parents=True)
    write_text(folder.spec_file, spec.to_toml())
    write_json(folder.provenance, {"data": {"name": "iris", "n_val": n_val}})
    for i, value in enumerate(values):
        record = TrialRecord(
            number=i,
            state="complete",
            params={"lr": 0.1 / (i + 1), "units": 8, "batch_size": 16, "epochs": 2},
            seed=i,
            objective=value,
            epochs_trained=2,
            train_steps=14,
            val={"accuracy": value},
            test={"accuracy": value},
            objective_se=ses[i] if ses else None,
            folds=[{"fold": k, "val": {}, "test": {}} for k in range(folds)] if ses else None,
        )
        curves = [
            {"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.1 / e, objective: value}
            for e in (1, 2)
        ]
        write_trial(folder.trial(i), record, curves, None)
    return Study(folder.root)


def load_bench(name: str) -> ModuleType:
    """``bench/<name>.py`` as a module (the benchmarks are scripts, not a package)."""
    path = Path(__file__).resolve().parents[1] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"sweeplab_bench_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
