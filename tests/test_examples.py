"""Every example study and every README command runs (at a reduced size)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"

REDUCED = {
    "iris.toml": [],
    "custom_model.toml": ["search.trials=4", "params.epochs=2"],
    "iris_search.toml": ["search.trials=6", "params.epochs=5"],
    "digits_tpe.toml": ["search.trials=6", "params.epochs=2"],
    "fashion_mnist_ofat.toml": [
        "data.max_samples=3000",
        "search.trials=8",
        "params.epochs=1",
        "study.repeats=2",
    ],
}


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sweeplab", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_every_example_is_covered() -> None:
    assert {p.name for p in EXAMPLES.glob("*.toml")} == set(REDUCED)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REDUCED))
def test_example_runs(tmp_path: Path, name: str) -> None:
    sets = [arg for item in REDUCED[name] for arg in ("--set", item)]
    res = run_cli(
        ["run", str(EXAMPLES / name), "-q", "--set", "track.tensorboard=false", *sets], tmp_path
    )
    assert res.returncode == 0, res.stderr
    study_dir = next((tmp_path / "runs").iterdir())
    summary = pd.read_csv(study_dir / "summary.csv")
    assert len(summary) >= 1
    assert (summary["state"] == "complete").all()
    assert summary["test_accuracy"].notna().all()


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    commands = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("#", 1)[0].strip()
            # long-running servers and live views are run by tests/track/test_live.py
            if line.startswith(".venv/bin/sweeplab") and not re.search(r"--watch|dashboard", line):
                commands.append(line.removeprefix(".venv/bin/sweeplab").strip())
    return commands


@pytest.mark.slow
def test_readme_quick_start_commands(tmp_path: Path) -> None:
    commands = _readme_commands()
    assert len(commands) >= 4
    for command in commands:
        res = run_cli(shlex.split(command), tmp_path)
        assert res.returncode == 0, (command, res.stderr)
    assert (tmp_path / "runs" / "my_study" / "summary.parquet").is_file()


def test_readme_python_snippet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "README.md").read_text()
    snippet = re.search(r"```python\n(.*?)```", text, flags=re.S)
    assert snippet is not None
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(EXAMPLES)
    code = snippet.group(1).replace("print(", "str(")
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "runs" / "iris-search" / "summary.csv").is_file()
