"""status, export and report of a large study read the index, not every trial's files.

A synthetic 2,000-trial study directory is written once; each command runs in
this process with ``open`` spied on, and the test counts the files it opened
under ``trials/`` (not a timing test).
"""

from __future__ import annotations

import builtins
import io
import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from sweeplab.cli import app
from sweeplab.report._training import MAX_CURVES
from sweeplab.store import StudyDir, TrialRecord, write_json, write_text
from tests.conftest import make_spec

N = 2000
METRICS = ("accuracy", "f1_macro", "loss")


def _write_study(root: Path) -> Path:
    spec = make_spec(
        "big",
        params={"depth": 1, "epochs": 2},
        search={
            "trials": N,
            "space": {"units": [4, 8, 16], "lr": {"low": 1e-4, "high": 1e-1, "log": True}},
        },
    )
    folder = StudyDir(root / "big")
    write_text(folder.spec_file, spec.to_toml())
    write_json(folder.provenance, {"data": {"name": "iris", "n_val": 15}})
    rng = np.random.default_rng(0)
    classes = ["a", "b", "c"]
    for n in range(N):
        units, lr = int(rng.choice([4, 8, 16])), float(10 ** rng.uniform(-4, -1))
        acc = float(np.clip(0.6 + 0.1 * np.log10(lr) / -4 + rng.normal(0, 0.05), 0, 1))
        metrics = {m: acc if m != "loss" else 1.0 - acc for m in METRICS}
        record = TrialRecord(
            number=n,
            state="complete",
            params={"depth": 1, "units1": units, "lr": lr, "epochs": 2, "batch_size": 32},
            seed=n,
            objective=acc,
            epochs_trained=2,
            train_steps=8,
            val=metrics,
            test=metrics,
            n_val=15,
            group=f"g{n // 256}",
            group_size=256,
            group_members=list(range(n - n % 256, min(N, n - n % 256 + 256))),
        )
        curves = [
            {"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.1 / e, "val_accuracy": acc}
            for e in (1, 2)
        ]
        confusion = {"classes": classes, "val": np.eye(3).tolist(), "test": np.eye(3).tolist()}
        folder.write_trial(record, curves, confusion)
    return folder.root


@pytest.fixture(scope="module")
def big_study(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The study, written with fsync off (the test is about reads, not durability)."""
    real = os.fsync
    os.fsync = lambda fd: None
    try:
        yield _write_study(tmp_path_factory.mktemp("runs"))
    finally:
        os.fsync = real


def _opened(monkeypatch: pytest.MonkeyPatch, run: Callable[[], Any], root: Path) -> Counter[str]:
    """Which files under ``root/trials`` ``run`` opened, by file name."""
    seen: Counter[str] = Counter()
    real_open = io.open
    trials = str(root / "trials")

    def spy(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, str | os.PathLike) and os.fspath(file).startswith(trials):
            seen[Path(file).name] += 1
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(io, "open", spy)
    monkeypatch.setattr(builtins, "open", spy)
    run()
    monkeypatch.undo()
    return seen


def _cli(*args: str) -> Callable[[], None]:
    def run() -> None:
        result = CliRunner().invoke(app, list(args))
        assert result.exit_code == 0, result.output

    return run


def test_status_reads_no_trial_file(big_study: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _opened(monkeypatch, _cli("status", str(big_study), "--top", "5"), big_study) == {}


def test_export_reads_no_trial_file(
    big_study: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "s.csv"
    run = _cli("export", str(big_study), "-o", str(target))
    assert _opened(monkeypatch, run, big_study) == {}
    assert len(target.read_text().splitlines()) == N + 1


@pytest.mark.slow
def test_report_reads_no_record_and_a_bounded_sample_of_curves(
    big_study: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sweeplab.analysis._importance as importance
    import sweeplab.analysis._stats as stats

    # fewer resamples: this test counts files, it does not check the statistics
    monkeypatch.setattr(importance, "N_RESAMPLES", 2)
    monkeypatch.setattr(stats, "N_BOOTSTRAP", 50)
    run = _cli("report", str(big_study), "-o", str(tmp_path / "report"))
    seen = _opened(monkeypatch, run, big_study)
    assert seen["record.json"] == 0
    assert seen["curves.csv"] <= MAX_CURVES + 3 < N
    assert seen["confusion.json"] <= 1
    assert (tmp_path / "report" / "report.html").is_file()


def test_status_of_a_big_study_shows_its_best_rows_unless_asked_for_all(big_study: Path) -> None:
    """A 2,000-row table takes seconds to draw and is read by nobody: the best 20, and a
    line that says so; --all and --top N still show what they say."""
    default = CliRunner().invoke(app, ["status", str(big_study)])
    assert default.exit_code == 0, default.output
    assert "the best 20 of 2000 trials; --top N or --all for more" in default.output
    every = CliRunner().invoke(app, ["status", str(big_study), "--all"], terminal_width=200)
    assert every.exit_code == 0, every.output
    assert "or --all for more" not in every.output
    assert every.output.count(" complete ") >= 1900
    top = CliRunner().invoke(app, ["status", str(big_study), "--top", "5"])
    assert "the best 5 of 2000 trials" in top.output
