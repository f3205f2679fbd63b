"""The ``sweeplab`` command line: it owns the terminal (typer + rich); the library only logs.

The commands live in private modules that register on the one typer ``app`` of
:mod:`sweeplab.cli._app` when imported. They are imported here so that ``app`` is complete
whenever ``sweeplab.cli`` is imported, and in the order ``sweeplab --help`` lists the
commands (typer lists them in registration order), hence no import sorting. A command
module imports only modules that register nothing (``_app``, ``_show``, ``_inputs``), so
this order is the only one that counts.
"""

# isort: off
from sweeplab.cli import _starter, _run, _status, _study_commands  # noqa: F401  (registration)
from sweeplab.cli import _doctor  # noqa: F401  (registration)

# isort: on
from sweeplab.cli._app import app, main

__all__ = ["app", "main"]
