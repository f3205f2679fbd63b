"""The ``sweeplab`` typer app, its consoles, error handling and entry point.

The command modules (``_starter``, ``_run``, ``_status``, ``_study_commands``) import
:data:`app` from here and register on it; ``sweeplab.cli`` imports them in the order the
commands are listed in ``--help``. This module imports none of them, so there is no cycle.

Exit codes: 0 ok, 1 a run failed (or stopped in one line: a full disk, a lost Ray
cluster; the same command resumes), 2 bad input (study file, data, arguments),
130 interrupted by Ctrl-C (SIGINT), 143 stopped by SIGTERM (finished trials are kept; the
same command resumes).
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from sweeplab.errors import SweeplabError

__all__ = ["app", "err", "fail", "main", "out", "user_errors"]

app = typer.Typer(
    name="sweeplab",
    help="Reproducible hyperparameter studies on PyTorch models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
#: Notes, warnings, errors and progress bars: kept off stdout so results can be piped.
err = Console(stderr=True, soft_wrap=True)
#: Results (tables, "wrote ..." lines); wide when piped so tables are not wrapped.
out = Console(width=None if sys.stdout.isatty() else 160)


def fail(exc: SweeplabError) -> typer.Exit:
    """Print ``exc`` as a one-line error and return the exit carrying its exit code.

    The caller raises the result, so a command reads ``raise fail(SpecError(...))``.
    """
    err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(exc.exit_code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a :class:`SweeplabError` raised inside into a printed error and its exit code.

    Bad input is the user's to fix, so it gets a message rather than a traceback.
    """
    try:
        yield
    except SweeplabError as exc:
        raise fail(exc) from None


def _setup_logging(verbose: bool) -> None:
    """Send the library's log records to stderr: warnings only, or everything with -v."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log details.")] = False,
) -> None:
    _setup_logging(verbose)


def main() -> None:
    """Entry point of the ``sweeplab`` console script."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    finally:
        # The command is over and its files are saved: a stop signal arriving while the
        # interpreter shuts down must not kill it by signal (exit -2) instead of its code.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
