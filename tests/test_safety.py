"""Safety rules that hold for the whole code base."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sweeplab.errors import SpecError
from sweeplab.spec import spec_from_dict

SRC = Path(__file__).parent.parent / "src" / "sweeplab"


def test_nothing_is_unpickled() -> None:
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"\bpickle\.loads?\(|\bcloudpickle\b|joblib\.load", text), path
        for call in re.findall(r"torch\.load\([^)]*\)", text):
            assert "weights_only=True" in call, (path, call)


@pytest.mark.parametrize("name", ["../escape", "/abs", "a/b", ".hidden", "x" * 65, "UP"])
def test_study_names_cannot_leave_the_runs_directory(name: str) -> None:
    with pytest.raises(SpecError, match=r"study\.name must be"):
        spec_from_dict({"study": {"name": name}})


def test_module_function_data_runs_only_when_named(tmp_path: Path) -> None:
    spec = spec_from_dict({"study": {"name": "s"}, "data": {"dataset": "iris"}})
    assert ":" not in spec.data.dataset
