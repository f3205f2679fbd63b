"""The ``sweeplab`` command line. It owns the terminal; the library only logs.

Exit codes: 0 ok, 1 a run failed, 2 bad input (study file, data, arguments),
130 interrupted (finished trials are kept; the same command resumes).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from sweeplab.errors import SpecError, StudyError, SweeplabError

__all__ = ["app", "main"]

app = typer.Typer(
    name="sweeplab",
    help="Reproducible hyperparameter studies on PyTorch models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, soft_wrap=True)
out = Console(width=None if sys.stdout.isatty() else 160)


def _starter_text(path: Path, name: str, dataset: str) -> str:
    """The starter study file for ``path``, with study name ``name`` on ``dataset``.

    The text is the package resource ``starter.toml``; its ``${path}``, ``${name}`` and
    ``${dataset}`` placeholders sit in comments and strings, so the resource is valid TOML.
    """
    template = files("sweeplab.cli").joinpath("starter.toml").read_text(encoding="utf-8")
    return Template(template).substitute(path=path, name=name, dataset=dataset)


def _fail(exc: SweeplabError) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(exc.exit_code)


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except SweeplabError as exc:
        raise _fail(exc) from None


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log details.")] = False,
) -> None:
    _setup_logging(verbose)


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
        raise _fail(SpecError(f"{path} must not exist already (use --force to overwrite)"))
    name = "".join(c if c.isalnum() or c in "_-" else "-" for c in path.stem.lower()) or "study"
    path.write_text(_starter_text(path, name, dataset), encoding="utf-8")
    out.print(f"wrote {path}; next: [bold]sweeplab run {path}[/bold]")


def _progress_callback(progress: Progress) -> Callable[[Any], None]:
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
    from sweeplab.study import handling_sigint
    from sweeplab.study import run as run_study

    overrides = list(set_ or [])
    if confirm is not None:
        overrides.append(f"search.confirm_top={confirm}")
    if device:
        overrides.append(f"study.device={device}")
    if backend:
        overrides.append(f"study.backend={backend!r}")
    if direction:
        key = "study.direction" if len(direction) == 1 else "study.directions"
        value = f'"{direction[0]}"' if len(direction) == 1 else str(list(direction))
        overrides.append(f"{key}={value}")
    with _errors():
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
            with handling_sigint():
                if spec.study.backend == "ray" or workers not in (None, 1) or address:
                    study = _run_scaled(spec, runs_dir, workers, address, callback)
                else:
                    study = run_study(spec, runs_dir=runs_dir, callback=callback)
        except KeyboardInterrupt:
            progress.stop()
            err.print(
                f"interrupted: finished trials are saved in {runs_dir / spec.study.name}; "
                f"run the same command again to resume"
            )
            raise typer.Exit(130) from None
        finally:
            progress.stop()
    elapsed = time.perf_counter() - start
    _print_status(study, top=5)
    out.print(f"done in {elapsed:.1f}s; results in {study.dir.root}")
    failed = [r for r in study.records() if r.state == "failed"]
    if failed and len(failed) == len(study.records()):
        err.print(f"every trial failed, e.g. trial {failed[0].number}: {failed[0].reason}")
        raise typer.Exit(1)


def _run_scaled(
    spec: Any, runs_dir: Path, workers: int | None, address: str | None, callback: Any
) -> Any:
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
    from sweeplab.study import join

    with _errors():
        opened = join(study, device=device)
    if not quiet:
        out.print(f"worker done; {len(opened.records())} trial(s) in {opened.dir.root}")


def _open_study(target: Path, runs_dir: Path) -> Any:
    from sweeplab.store import load_study

    if target.is_file():
        from sweeplab.cli._inputs import load_any

        target = runs_dir / load_any(target, None, [])[0].study.name
    if not target.exists():
        raise StudyError(f"study directory must exist, but {target} was not found")
    return load_study(target)


def _fmt(value: Any) -> str:
    if value is None or value != value:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _print_status(study: Any, top: int | None) -> None:
    spec = study.spec
    if spec.objective is not None:
        from sweeplab.cli._objective_view import objective_status

        for item in objective_status(study, top):
            out.print(item)
        return
    from sweeplab.analysis import rank_with_noise, trial_scores
    from sweeplab.store import provenance_n_val, read_confirmation

    records = study.records()
    searched = list(spec.search.space) or ["lr", "units", "batch_size", "epochs"]
    for cfg in spec.search.configs:
        searched += [k for k in cfg if k not in searched]
    counts: dict[str, int] = {}
    for r in records:
        counts[r.state] = counts.get(r.state, 0) + 1
    sign = -1.0 if spec.direction == "maximize" else 1.0
    ranked = sorted(
        records,
        key=lambda r: (r.state != "complete", sign * (r.objective or 0.0), r.number),
    )
    shown = ranked if top is None else ranked[:top]
    scores = trial_scores(
        records,
        metric=spec.study.objective,
        n_val=provenance_n_val(study.dir.provenance),
    )
    ranking = rank_with_noise(scores, maximize=spec.direction == "maximize")
    se_of = {s.trial: s.se for s in ranking.scores}
    table = Table(
        title=f"{spec.study.name}: {spec.search.strategy}, "
        + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())),
    )
    columns = [
        "trial",
        "state",
        *searched,
        spec.study.objective,
        "± SE",
        "vs best",
        "test_accuracy",
        "trained",
        "s",
    ]
    for col in columns:
        table.add_column(col, justify="right")
    for r in shown:
        table.add_row(
            str(r.number),
            r.state,
            *(_fmt(r.params.get(k)) for k in searched),
            _fmt(r.objective),
            _fmt(se_of.get(r.number)),
            ranking.status(r.number),
            _fmt((r.test or {}).get("accuracy")),
            str(r.epochs_trained),
            f"{r.duration_s:.1f}",
        )
    out.print(table)
    best = study.best()
    if best is not None:
        out.print(
            f"best: trial {best.number}, {spec.study.objective} = {best.objective:.4f} "
            f"(test accuracy {(best.test or {}).get('accuracy', float('nan')):.4f}, "
            "reported only, never used for selection)"
        )
    tie = ranking.tie
    if tie is not None and tie.inside_noise:
        lead = ranking.scores[tie.best]
        others = len(tie.tied) - 1
        out.print(
            f"note: the best trial {lead.trial} is inside the noise: {others} other "
            f"trial{'s' if others != 1 else ''} within {tie.z:g} combined standard errors "
            f"(widest gap {tie.widest_gap:.4g}); 'sweeplab report' says more",
            highlight=False,
        )
    confirmation = read_confirmation(study.dir.confirmation)
    if confirmation is not None:
        win = confirmation.candidate(confirmation.winner)
        se = "" if win.confirm_se is None else f" ± {win.confirm_se:.4g}"
        change = (
            f", changed from the search's best, trial {confirmation.search_best}"
            if confirmation.changed
            else ", the search's best too"
        )
        out.print(
            f"confirmed winner: trial {win.trial}, {confirmation.objective} = "
            f"{win.confirm_value:.4f}{se} over {confirmation.repeats} repeats"
            f"{change}",
            highlight=False,
        )


@app.command()
def status(
    study: Annotated[Path, typer.Argument(help="A study directory, or its study file.")],
    runs_dir: Annotated[Path, typer.Option(help="Where study directories live.")] = Path("runs"),
    top: Annotated[int | None, typer.Option(help="Show only the best N trials.")] = None,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Refresh a live table until Ctrl-C.")
    ] = False,
    interval: Annotated[float, typer.Option(help="Seconds between refreshes.", min=0.05)] = 2.0,
    count: Annotated[int | None, typer.Option(help="Stop after N refreshes.", hidden=True)] = None,
) -> None:
    """Show a study's trials, best first; with --watch, live, with the trials training now."""
    with _errors():
        opened = _open_study(study, runs_dir)
        if watch:
            _watch(opened, top or 10, interval, count)
        else:
            _print_status(opened, top=top)


def _live_view(study: Any, top: int) -> Any:
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
            _fmt(int(t.last["epoch"])) if "epoch" in t.last else "-",
            _fmt(t.params.get("epochs")),
            _fmt(t.last.get("train_loss")),
            _fmt(t.last.get(objective)),
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
            str(r.number), r.label, _fmt(r.objective), str(r.epochs_trained), f"{r.duration_s:.1f}"
        )
    return Group(head, running, best)


def _watch(study: Any, top: int, interval: float, count: int | None) -> None:
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


@app.command()
def dashboard(
    study: Annotated[Path, typer.Argument(help="A study directory, or its study file.")],
    runs_dir: Annotated[Path, typer.Option(help="Where study directories live.")] = Path("runs"),
    host: Annotated[str, typer.Option(help="Interface to bind; loopback by default.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 8080,
) -> None:
    """Serve optuna-dashboard on the study's storage (needs sweeplab[dashboard])."""
    from sweeplab.track import dashboard_server

    with _errors():
        opened = _open_study(study, runs_dir)
        server = dashboard_server(opened.dir.root, host=host, port=port)
    out.print(f"optuna-dashboard for {opened.name}: http://{host}:{server.server_port}/")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


class ExportFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"
    json = "json"


@app.command()
def export(
    study: Annotated[Path, typer.Argument(help="A study directory, or its study file.")],
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f")] = ExportFormat.csv,
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
    runs_dir: Annotated[Path, typer.Option(help="Where study directories live.")] = Path("runs"),
) -> None:
    """Export the summary table (one row per trial) as CSV, Parquet or JSON."""
    with _errors():
        opened = _open_study(study, runs_dir)
        frame = opened.trials()
        target = output or opened.dir.root / f"summary.{fmt.value}"
        if fmt is ExportFormat.csv:
            frame.to_csv(target, index=False)
        elif fmt is ExportFormat.json:
            frame.to_json(target, orient="records", indent=2)
        else:
            try:
                frame.to_parquet(target, index=False)
            except ImportError:
                raise SpecError(
                    "parquet export needs pyarrow: pip install 'sweeplab[parquet]'"
                ) from None
    out.print(f"wrote {target} ({len(frame)} trials)")


@app.command()
def reproduce(
    study: Annotated[Path, typer.Argument(help="A study directory, or its study file.")],
    trial: Annotated[
        list[int] | None, typer.Option("--trial", "-t", help="Trial number (repeatable).")
    ] = None,
    best: Annotated[bool, typer.Option("--best", help="The best trial.")] = False,
    sample: Annotated[int | None, typer.Option(help="A seeded sample of K trials.")] = None,
    tolerance: Annotated[
        float | None, typer.Option(help="Absolute tolerance (default: exact on CPU).")
    ] = None,
    runs_dir: Annotated[Path, typer.Option(help="Where study directories live.")] = Path("runs"),
) -> None:
    """Re-train trials from their records and compare every metric (exit 1 on mismatch)."""
    from sweeplab.study import reproduce as reproduce_trials

    with _errors():
        opened = _open_study(study, runs_dir)
        report = reproduce_trials(
            str(opened.dir.root),
            trials=trial or (),
            best=best,
            sample=sample,
            tolerance=tolerance,
        )
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}")
    exact = "bit-identical" if report.tolerance == 0 else f"within {report.tolerance:g}"
    if report.ok:
        out.print(f"reproduced {report.checked} trial(s) {report.trials}: every metric {exact}")
        return
    table = Table(title=f"{len(report.mismatches)} number(s) not reproduced ({exact} expected)")
    for col in ("trial", "what", "recorded", "reproduced"):
        table.add_column(col)
    for m in report.mismatches[:50]:
        table.add_row(str(m.trial), m.what, _fmt(m.recorded), _fmt(m.reproduced))
    out.print(table)
    raise typer.Exit(1)


@app.command()
def finalize(
    study: Annotated[
        Path, typer.Argument(help="A study directory (runs/<name>), or its study file.")
    ],
    trial: Annotated[
        int | None,
        typer.Option(
            "--trial", "-t", help="Trial to finalize (default: confirmed winner, else best)."
        ),
    ] = None,
    seeds: Annotated[
        int | None, typer.Option(help="Seeds to train (default: max(3, study.repeats)).")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output folder (default <study>/final).")
    ] = None,
    runs_dir: Annotated[Path, typer.Option(help="Where study directories live.")] = Path("runs"),
) -> None:
    """Train the chosen config on train+val with several seeds, test once, write model + card."""
    from sweeplab.study import finalize as finalize_study

    with _errors():
        target = study
        if study.is_file():
            from sweeplab.cli._inputs import load_any

            target = runs_dir / load_any(study, None, [])[0].study.name
        final = finalize_study(target, trial=trial, seeds=seeds, out=out_dir)
    card = final.card
    test = card["test"]
    n_done = sum(1 for s in test["per_seed"] if s["state"] == "complete")
    out.print(
        f"finalized trial {final.trial} of {card['study']} ({card['why']}); "
        f"trained on train+val ({card['data']['n_fit']} samples), {n_done}/{len(card['seeds'])} "
        f"seeds; tested once on {card['data']['n_test']} samples"
    )
    table = Table(title="test metrics (95% CI: t over seeds)")
    for col in ("metric", "mean", "95% CI", "model.safetensors"):
        table.add_column(col, justify="right")
    first = test["per_seed"][card["model_seed_index"]]["test"]
    for name, row in test["summary"].items():
        table.add_row(
            name, _fmt(row["mean"]), f"[{_fmt(row['low'])}, {_fmt(row['high'])}]", _fmt(first[name])
        )
    wilson = test["accuracy_wilson"]
    table.add_row(
        "accuracy (pooled, Wilson)",
        _fmt(wilson["value"]),
        f"[{_fmt(wilson['low'])}, {_fmt(wilson['high'])}]",
        "",
    )
    out.print(table)
    out.print(
        f"wrote {final.model}, {final.seeds.name}, {final.card_json.name} and "
        f"{final.card_md.name} in {final.out}"
    )


@app.command("import")
def import_(
    sweep: Annotated[Path, typer.Argument(help="A W&B sweep file (YAML).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The study file to write.")],
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Convert a W&B sweep file into a sweeplab study file."""
    from sweeplab.compat import load_sweep, sweep_spec

    with _errors():
        if output.exists() and not force:
            raise SpecError(f"{output} must not exist already (use --force to overwrite)")
        spec, notes = sweep_spec(load_sweep(sweep), path=sweep)
        for note in notes:
            err.print(f"[yellow]note:[/yellow] {note}", highlight=False)
        output.write_text(spec.to_toml(), encoding="utf-8")
    out.print(f"wrote {output}; next: [bold]sweeplab run {output}[/bold]")


@app.command()
def report(
    study: Annotated[Path, typer.Argument(help="A study directory, or its study file.")],
    runs_dir: Annotated[Path, typer.Option(help="Where study directories live.")] = Path("runs"),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Report folder (default <study>/report).")
    ] = None,
) -> None:
    """Write the study's report: report.md, a self-contained report.html and figures."""
    from sweeplab.report import write_report

    with _errors():
        files = write_report(_open_study(study, runs_dir), output)
    out.print(f"wrote {files.markdown} and {files.html} ({len(files.figures)} figures)")


@app.command()
def compare(
    study_file: Annotated[Path, typer.Argument(help="The study file (TOML).")],
    strategies: Annotated[
        str, typer.Option(help="Comma-separated strategies.")
    ] = "grid,random,sobol,tpe,gp,hyperband,bohb",
    repeats: Annotated[int, typer.Option(help="Seeds per strategy.")] = 5,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a key, e.g. --set search.trials=10 (repeatable)."),
    ] = None,
    runs_dir: Annotated[Path, typer.Option(help="Where study directories live.")] = Path("runs"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Run one study under several strategies and seeds (same budget) and report the comparison."""
    from sweeplab.report import write_compare_report
    from sweeplab.study import run_compare

    names = [s.strip() for s in strategies.split(",") if s.strip()]
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=quiet,
    )
    task = progress.add_task("studies", total=len(names) * max(repeats, 0))

    def on_study(strategy: str, repeat: int, done: int, total: int) -> None:
        progress.update(task, completed=done, description=f"{strategy} r{repeat}")

    with _errors(), progress:
        result = run_compare(study_file, names, repeats, list(set_ or []), runs_dir, on_study)
    with _errors():
        html = write_compare_report(result)
    out.print(f"wrote {html.with_suffix('.md')} and {html}")


def main() -> None:
    """Entry point of the ``sweeplab`` console script."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
