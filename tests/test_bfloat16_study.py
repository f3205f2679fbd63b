"""`study.dtype = "bfloat16"`: a study trains, reproduces exactly, and refuses what it cannot do."""

from __future__ import annotations

from pathlib import Path

import pytest

import sweeplab
from sweeplab.errors import SpecError
from sweeplab.study import finalize, reproduce
from tests.conftest import make_spec


def test_a_bfloat16_study_runs_and_reproduces(runs: Path) -> None:
    spec = make_spec("bf16", study={"dtype": "bfloat16"}, search={"trials": 3})
    records = sweeplab.run(spec, runs_dir=runs).records()
    assert [r.state for r in records] == ["complete"] * 3
    report = reproduce(str(runs / "bf16"), sample=3)
    assert report.ok, report.mismatches
    assert report.checked == 3
    final = finalize(runs / "bf16", seeds=2)
    card = final.card
    assert card["architecture"]["dtype"] == "bfloat16"


def test_bfloat16_is_refused_for_a_model_factory() -> None:
    with pytest.raises(SpecError, match="bfloat16' must be used with the built-in MLP"):
        make_spec("bf16f", study={"dtype": "bfloat16"}, model={"factory": "m.py:f"})
