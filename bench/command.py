"""What the benchmarks of whole commands share: a user's environment, a timed
``python -m sweeplab ...`` in a fresh process, and the result files.

Imported by ``ofat.py``, ``custom_example.py``, ``timeout.py``, ``engine.py`` and
``scale.py`` (each puts ``bench/`` on ``sys.path``), so they all time a command
the same way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SRC = str(ROOT / "src")

__all__ = ["ROOT", "SRC", "sweeplab_command", "timed", "user_env", "write_results"]


def user_env() -> dict[str, str]:
    """The environment of a timed command: this checkout's ``src`` first on the path,
    and Python's bytecode cache on, as on a user's machine (a sandbox that sets
    PYTHONDONTWRITEBYTECODE would make each fresh process compile sweeplab's
    sources again, while site-packages come precompiled)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, env.get("PYTHONPATH", "")) if p)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def sweeplab_command(*args: str) -> list[str]:
    """``python -m sweeplab ARGS`` with this interpreter."""
    return [sys.executable, "-m", "sweeplab", *args]


def timed(cmd: Sequence[str]) -> float:
    """Run ``cmd`` in a fresh process; its wall seconds (a failure raises with the
    tail of its stderr)."""
    start = time.perf_counter()
    proc = subprocess.run(list(cmd), env=user_env(), capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return wall


def write_results(stem: Path | str, results: dict[str, Any], markdown: str) -> None:
    """``<stem>.json`` and ``<stem>.md``, and a line that says so."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    Path(f"{stem}.md").write_text(markdown)
    print(f"wrote {stem}.md and .json")
