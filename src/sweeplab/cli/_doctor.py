"""``sweeplab doctor``: rebuild a study's journal storage from its trial records.

For a journal damaged in its middle (a torn tail is repaired on open without
it). The library does the work; this module prints what was done.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sweeplab.cli._app import app, out, user_errors
from sweeplab.cli._show import open_study

__all__ = ["doctor"]


@app.command()
def doctor(
    study: Annotated[Path, typer.Argument(help="A study directory, or its study file.")],
    runs_dir: Annotated[Path, typer.Option(help="Where study directories live.")] = Path("runs"),
) -> None:
    """Rebuild a study's storage (optuna.log) from its trial records; the old one is kept."""
    from sweeplab.study import doctor as rebuild

    with user_errors():
        opened = open_study(study, runs_dir)
        done = rebuild(opened.dir.root)
    for line in done:
        out.print(line, highlight=False)
    out.print(f"doctor done: run the study again to resume it ({opened.dir.root})")
