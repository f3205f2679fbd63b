"""``sweeplab init``: write the commented starter study file.

The text lives in the package resource ``starter.toml`` (installed as package data) so it
can be read and edited as the TOML it is; its ``${path}``, ``${name}`` and ``${dataset}``
placeholders sit in comments and strings, which keeps the resource itself valid TOML.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from string import Template
from typing import Annotated

import typer

from sweeplab.cli._app import app, fail, out
from sweeplab.errors import SpecError

__all__ = ["init", "starter_text"]


def starter_text(path: Path, name: str, dataset: str) -> str:
    """The starter study file for ``path``, with study name ``name`` on ``dataset``."""
    template = files("sweeplab.cli").joinpath("starter.toml").read_text(encoding="utf-8")
    return Template(template).substitute(path=path, name=name, dataset=dataset)


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the study file.")] = Path(
        "study.toml"
    ),
    dataset: Annotated[str, typer.Option(help="Dataset of the starter study.")] = "iris",
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter study file."""
    if path.exists() and not force:
        raise fail(SpecError(f"{path} must not exist already (use --force to overwrite)"))
    name = "".join(c if c.isalnum() or c in "_-" else "-" for c in path.stem.lower()) or "study"
    path.write_text(starter_text(path, name, dataset), encoding="utf-8")
    out.print(f"wrote {path}; next: [bold]sweeplab run {path}[/bold]")
