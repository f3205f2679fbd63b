"""The ``sweeplab`` command line: it owns the terminal (typer + rich); the library only logs."""

from sweeplab.cli._app import app, main

__all__ = ["app", "main"]
