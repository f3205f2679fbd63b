"""``sweeplab run`` and ``sweeplab worker``: train a study's trials, with a progress bar.

``run`` starts or resumes a study in this process, on local worker processes or on Ray;
``worker`` joins a study another process started. Both leave the printing of results to
:func:`sweeplab.cli._show.print_status`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from sweeplab.cli._app import app, err, fail, out, user_errors
from sweeplab.cli._show import print_status
from sweeplab.errors import ClusterLostError

__all__ = ["run", "worker"]


def _progress_callback(progress: Progress) -> Callable[[Any], None]:
    """A study callback that drives ``progress``: one bar for the trials, one for confirmation.

    The bar starts on the study's first event, so notes printed before it stay above it.
    """
    task = progress.add_task("trials", total=None, best="-")
    confirming: list[Any] = []

    def callback(event: Any) -> None:
        if event.kind == "start":
            progress.start()
        if event.kind == "confirm":
            if not confirming:
                confirming.append(progress.add_task("confirm top", total=event.total, best="-"))
            progress.update(confirming[0], total=event.total, completed=event.done)
            return
        best = "-" if event.best is None else f"{event.best:.4f}"
        progress.update(task, total=event.total, completed=event.done, best=best)

    return callback


@app.command()
def run(
    study_file: Annotated[
        Path | None, typer.Argument(help="The study file (TOML) or a W&B sweep file (YAML).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a key, e.g. --set search.trials=5 (repeatable)."),
    ] = None,
    runs_dir: Annotated[Path, typer.Option(help="Where study directories live.")] = Path("runs"),
    device: Annotated[
        str | None, typer.Option(help="auto, cpu, cuda or cuda:N (overrides study.device).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes (local) or actors (ray); default: one per GPU."),
    ] = None,
    backend: Annotated[
        str | None, typer.Option(help="local or ray (overrides study.backend).")
    ] = None,
    address: Annotated[
        str | None, typer.Option(help="Ray cluster address, e.g. auto or host:port.")
    ] = None,
    objective: Annotated[
        str | None,
        typer.Option(help="Run an unmodified Optuna objective: path/to/file.py:objective."),
    ] = None,
    direction: Annotated[
        list[str] | None,
        typer.Option(help="minimize or maximize; repeat for a multi-objective study."),
    ] = None,
    constraints: Annotated[
        str | None,
        typer.Option(
            help="Optuna constraints (feasible when all values <= 0): file.py:function, "
            "called with the finished trial, or user_attrs.<name> (sets search.constraints)."
        ),
    ] = None,
    confirm: Annotated[
        int | None,
        typer.Option(
            help="Re-train the top K configs on fresh folds and seeds after the search and "
            "pick the winner from those (sets search.confirm_top)."
        ),
    ] = None,
) -> None:
    """Run a study, or resume it if its directory exists."""
    from sweeplab.cli._inputs import load_any
    from sweeplab.study import exit_code, handling_signals
    from sweeplab.study import run as run_study

    overrides = list(set_ or [])
    if confirm is not None:
        overrides.append(f"search.confirm_top={confirm}")
    if constraints is not None:
        from sweeplab.spec import absolute_target

        if not constraints.startswith("user_attrs."):
            constraints = absolute_target(constraints, Path.cwd())
        overrides.append(f"search.constraints={constraints!r}")
    if device:
        overrides.append(f"study.device={device}")
    if backend:
        overrides.append(f"study.backend={backend!r}")
    if direction:
        key = "study.direction" if len(direction) == 1 else "study.directions"
        value = f'"{direction[0]}"' if len(direction) == 1 else str(list(direction))
        overrides.append(f"{key}={value}")
    with user_errors():
        spec, notes = load_any(study_file, objective, overrides)
        for note in notes:
            err.print(f"[yellow]note:[/yellow] {note}", highlight=False)
        start = time.perf_counter()
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("best {task.fields[best]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=err,
            disable=quiet,
        )
        try:
            callback = _progress_callback(progress)
            with handling_signals():
                if spec.study.backend == "ray" or workers not in (None, 1) or address:
                    study = _run_scaled(spec, runs_dir, workers, address, callback)
                else:
                    study = run_study(spec, runs_dir=runs_dir, callback=callback)
        except ClusterLostError as exc:
            progress.stop()
            fail(exc)
            _exit_now(exc.exit_code)
        except KeyboardInterrupt:
            progress.stop()
            err.print(
                f"interrupted: finished trials are saved in {runs_dir / spec.study.name}; "
                f"run the same command again to resume"
            )
            raise typer.Exit(exit_code()) from None
        finally:
            progress.stop()
    elapsed = time.perf_counter() - start
    records = study.records()
    print_status(study, top=5, records=records)
    out.print(f"done in {elapsed:.1f}s; results in {study.dir.root}")
    failed = [r for r in records if r.state == "failed"]
    if failed and len(failed) == len(records):
        err.print(f"every trial failed, e.g. trial {failed[0].number}: {failed[0].reason}")
        raise typer.Exit(1)


def _exit_now(code: int) -> NoReturn:
    """End the process without Ray's shutdown at exit, which waits for a dead head
    (up to a minute) and then aborts with its own exit code and a C++ log line."""
    import logging
    import os
    import sys

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _run_scaled(
    spec: Any, runs_dir: Path, workers: int | None, address: str | None, callback: Any
) -> Any:
    """Run ``spec`` on Ray (``backend = "ray"`` or an address) or on local worker processes."""
    from sweeplab.backends import run_local, run_ray

    if spec.study.backend == "ray" or address:
        return run_ray(spec, address=address, workers=workers, runs_dir=runs_dir, callback=callback)
    return run_local(spec, workers=workers, runs_dir=runs_dir, callback=callback)


@app.command()
def worker(
    study: Annotated[Path, typer.Argument(help="The study directory to join (runs/<name>).")],
    device: Annotated[
        str | None, typer.Option(help="auto, cpu, cuda or cuda:N (overrides study.device).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing.")] = False,
) -> None:
    """Join a study as one more worker: claim and train its trials until the budget is used."""
    from sweeplab.study import exit_code, handling_signals, join

    with user_errors():
        try:
            with handling_signals():
                opened = join(study, device=device)
        except KeyboardInterrupt:
            if not quiet:
                err.print(f"interrupted: finished trials are saved in {study}")
            raise typer.Exit(exit_code()) from None
    if not quiet:
        out.print(f"worker done; {len(opened.records())} trial(s) in {opened.dir.root}")
