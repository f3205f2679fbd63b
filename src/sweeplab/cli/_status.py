"""``sweeplab status``: a study's trials as a table, best first, or live with ``--watch``.

The still table is :func:`sweeplab.cli._show.print_status` (``sweeplab run`` prints it
too); the live view, which adds the trials training now, is only here.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from sweeplab.cli._app import app, out, user_errors
from sweeplab.cli._show import fmt, open_records, print_status

__all__ = ["DEFAULT_TOP", "SHOW_ALL_UP_TO", "status"]

SHOW_ALL_UP_TO = 50
"""A study with more trials shows only its best :data:`DEFAULT_TOP` unless ``--all``
(a 10,000-row table takes half a minute to draw and nobody reads it)."""
DEFAULT_TOP = 20


@app.command()
def status(
    study: Annotated[Path, typer.Argument(help="A study directory, or its study file.")],
    runs_dir: Annotated[Path, typer.Option(help="Where study directories live.")] = Path("runs"),
    top: Annotated[
        int | None,
        typer.Option(
            help=f"Show only the best N trials (default: all up to {SHOW_ALL_UP_TO}, "
            f"else the best {DEFAULT_TOP})."
        ),
    ] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Show every trial.")] = False,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Refresh a live table until Ctrl-C.")
    ] = False,
    interval: Annotated[float, typer.Option(help="Seconds between refreshes.", min=0.05)] = 2.0,
    count: Annotated[int | None, typer.Option(help="Stop after N refreshes.", hidden=True)] = None,
) -> None:
    """Show a study's trials, best first; with --watch, live, with the trials training now."""
    with user_errors():
        opened, records = open_records(study, runs_dir)
        if watch:
            _watch(opened, top or 10, interval, count)
        else:
            if top is None and not show_all and len(records) > SHOW_ALL_UP_TO:
                top = DEFAULT_TOP
            print_status(opened, top=top, records=records)


def _live_view(study: Any, top: int) -> Any:
    """One frame of ``status --watch``: counts, the trials training now and the best ``top``."""
    from rich.console import Group

    from sweeplab.track import read_live

    spec = study.spec
    objective = spec.study.objective
    records = study.records()
    live = read_live(study.dir.root)
    counts: dict[str, int] = {}
    for r in records:
        counts[r.state] = counts.get(r.state, 0) + 1
    total = spec.search.trials
    head = f"{spec.study.name}: {len(records)}{f'/{total}' if total else ''} finished"
    head += "".join(f", {n} {s}" for s, n in sorted(counts.items())) + f", {len(live)} training"
    running = Table(title="training now")
    for col in ("trial", "epoch", "of", "train_loss", objective, "s"):
        running.add_column(col, justify="right")
    now = time.time()
    for t in live:
        running.add_row(
            str(t.number),
            fmt(int(t.last["epoch"])) if "epoch" in t.last else "-",
            fmt(t.params.get("epochs")),
            fmt(t.last.get("train_loss")),
            fmt(t.last.get(objective)),
            f"{now - t.started:.0f}",
        )
    sign = -1.0 if spec.direction == "maximize" else 1.0
    done = sorted(
        (r for r in records if r.state == "complete" and r.objective is not None),
        key=lambda r: (sign * float(r.objective), r.number),
    )[:top]
    best = Table(title=f"best {top}")
    for col in ("trial", "label", objective, "epochs", "s"):
        best.add_column(col, justify="right")
    for r in done:
        best.add_row(
            str(r.number), r.label, fmt(r.objective), str(r.epochs_trained), f"{r.duration_s:.1f}"
        )
    return Group(head, running, best)


def _watch(study: Any, top: int, interval: float, count: int | None) -> None:
    """Redraw :func:`_live_view` every ``interval`` seconds until Ctrl-C (or ``count`` frames)."""
    from rich.live import Live

    shown = 0
    try:
        with Live(_live_view(study, top), console=out, auto_refresh=False) as live:
            while count is None or shown < count:
                live.update(_live_view(study, top), refresh=True)
                shown += 1
                if count is not None and shown >= count:
                    break
                time.sleep(interval)
    except KeyboardInterrupt:
        pass
