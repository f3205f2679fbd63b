"""The commands on a study as a whole: dashboard, export, reproduce, finalize, import, report
and compare.

Each is a thin shell over the library: most find their study with
:func:`sweeplab.cli._show.open_study`, call one library function and print what it wrote.
The library modules they need are imported inside each command, not at module top, as in
every command module.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sweeplab.cli._app import app, err, out, user_errors
from sweeplab.cli._show import fmt, open_records, open_study
from sweeplab.errors import SpecError

__all__ = [
    "ExportFormat",
    "compare",
    "dashboard",
    "export",
    "finalize",
    "import_",
    "report",
    "reproduce",
]


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

    with user_errors():
        opened = open_study(study, runs_dir)
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
    """The formats ``sweeplab export --format`` writes."""

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
    with user_errors():
        from sweeplab.store import summary_frame

        opened, records = open_records(study, runs_dir)
        frame = summary_frame(records)
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

    with user_errors():
        opened = open_study(study, runs_dir)
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
        table.add_row(str(m.trial), m.what, fmt(m.recorded), fmt(m.reproduced))
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

    with user_errors():
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
            name, fmt(row["mean"]), f"[{fmt(row['low'])}, {fmt(row['high'])}]", fmt(first[name])
        )
    wilson = test["accuracy_wilson"]
    table.add_row(
        "accuracy (pooled, Wilson)",
        fmt(wilson["value"]),
        f"[{fmt(wilson['low'])}, {fmt(wilson['high'])}]",
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

    with user_errors():
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

    with user_errors():
        files = write_report(open_study(study, runs_dir), output)
    out.print(f"wrote {files.markdown} and {files.html} ({len(files.figures)} figures)")


@app.command()
def compare(
    study_file: Annotated[Path, typer.Argument(help="The study file (TOML).")],
    strategies: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated strategies [default: grid,random,sobol,tpe,gp,hyperband,bohb; "
            "grid left out when a range is continuous]."
        ),
    ] = None,
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

    names = [s.strip() for s in strategies.split(",") if s.strip()] if strategies else None
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=quiet,
    )
    task = progress.add_task("studies", total=None)

    def on_study(strategy: str, repeat: int, done: int, total: int) -> None:
        progress.update(task, completed=done, total=total, description=f"{strategy} r{repeat}")

    with user_errors(), progress:
        result = run_compare(
            study_file,
            names,
            repeats,
            list(set_ or []),
            runs_dir,
            on_study,
            lambda text: err.print(text, markup=False, highlight=False),
        )
    with user_errors():
        html = write_compare_report(result)
    out.print(f"wrote {html.with_suffix('.md')} and {html}")
