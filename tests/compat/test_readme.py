"""The README's "Bring your own" commands run as written (trials reduced)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sweeplab.cli import app
from sweeplab.spec import load_spec

ROOT = Path(__file__).parents[2]


def _commands() -> list[list[str]]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Bring your own", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    out = []
    for line in block.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("sweeplab "):
            out.append(shlex.split(line.removeprefix("sweeplab ")))
    return out


@pytest.mark.slow
def test_bring_your_own_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    commands = _commands()
    assert len(commands) == 5
    runner = CliRunner()
    for args in commands:
        if args[0] == "run":
            args = [*args, "-q", "--set", "track.tensorboard=false"]
            if "custom_model" in args[1]:
                args += ["--set", "params.epochs=2"]
            if "wandb_sweep" in args[1]:
                args += ["--set", "params.epochs=3"]
        res = runner.invoke(app, args)
        assert res.exit_code == 0, (args, res.output)
    assert len(list((tmp_path / "runs" / "optuna_objective" / "trials").iterdir())) == 8
    assert (tmp_path / "runs" / "custom-model" / "summary.csv").is_file()
    assert load_spec(tmp_path / "sweep.toml").search.strategy == "bohb"
    assert (tmp_path / "runs" / "wandb_sweep" / "summary.csv").is_file()
    script = tmp_path / "runs" / "wandb-script"
    assert len(list(script.glob("trials/*/wandb/offline-run-*/run-*.wandb"))) == 3
    assert len(list(script.glob("trials/*/record.json"))) == 3
