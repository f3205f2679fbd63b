"""How the command line shows a study: find it, format a cell, print its status tables.

Shared by the command modules (``sweeplab run`` prints :func:`print_status` when it
finishes; ``status``, ``report``, ``export`` and others find their study with
:func:`open_study`). It registers no command, so importing it never changes the order in
which commands are listed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from sweeplab.cli._app import err, out
from sweeplab.errors import StudyError

if TYPE_CHECKING:
    from sweeplab.store import Study, TrialRecord

__all__ = ["feasibility_line", "fmt", "open_records", "open_study", "print_status"]


def open_study(target: Path, runs_dir: Path) -> Any:
    """The study in directory ``target``, or the one a study file ``target`` names under
    ``runs_dir``; a :class:`StudyError` if it does not exist."""
    return open_records(target, runs_dir)[0]


def open_records(target: Path, runs_dir: Path) -> tuple[Any, list[Any]]:
    """:func:`open_study` and the records it read: a command that shows them reads the
    index once, not twice (at 10,000 trials one read is about half a second)."""
    from sweeplab.store import load_study

    if target.is_file():
        from sweeplab.cli._inputs import load_any

        target = runs_dir / load_any(target, None, [])[0].study.name
    if not target.exists():
        raise StudyError(f"study directory must exist, but {target} was not found")
    study = load_study(target)
    records = study.records()  # moves unreadable records to quarantine/, listed next
    damaged = study.damaged()
    if damaged:
        numbers = ", ".join(str(d.number) for d in damaged)
        err.print(
            f"[yellow]damaged:[/yellow] {len(damaged)} trial record(s) could not be read "
            f"(trial {numbers}) and are kept in {study.dir.quarantine}; those trials run "
            "again when the study resumes",
            highlight=False,
        )
    return study, records


def fmt(value: Any) -> str:
    """One table cell: ``-`` for missing or NaN, 4 significant digits for floats."""
    if value is None or value != value:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def feasibility_line(records: list[Any]) -> str:
    """How many trials meet ``search.constraints`` (every value <= 0)."""
    judged = [r for r in records if r.constraints is not None]
    feasible = sum(r.feasible for r in judged)
    return (
        f"constraints: {feasible} of {len(judged)} judged trials feasible "
        "(every constraint value <= 0); best is the best feasible trial"
    )


def print_status(study: Any, top: int | None, records: list[Any] | None = None) -> None:
    """Print the trials table, best first (only the best ``top`` if given), the best trial,
    whether it is inside the noise, and the confirmed winner if there is one.

    ``records`` are the study's records if the caller has read them already."""
    spec = study.spec
    if records is None:
        records = study.records()
    if spec.objective is not None:
        for item in _objective_status(study, top, records):
            out.print(item)
        return
    from sweeplab.analysis import rank_with_noise, trial_scores
    from sweeplab.store import best_record, provenance_n_val, read_confirmation

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
            *(fmt(r.params.get(k)) for k in searched),
            fmt(r.objective),
            fmt(se_of.get(r.number)),
            ranking.status(r.number),
            fmt((r.test or {}).get("accuracy")),
            str(r.epochs_trained),
            f"{r.duration_s:.1f}",
        )
    out.print(table)
    if len(shown) < len(ranked):
        out.print(
            f"the best {len(shown)} of {len(ranked)} trials; --top N or --all for more",
            highlight=False,
        )
    if any(r.constraints is not None for r in records):
        out.print(feasibility_line(records))
    best = best_record(records, maximize=spec.direction == "maximize")
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


def _objective_status(
    study: Study, top: int | None, records: list[TrialRecord]
) -> list[Table | str]:
    """Renderables for ``sweeplab status`` of an objective study: its trials by first value
    and, with several objectives, the Pareto front."""
    from sweeplab.analysis import pareto_front
    from sweeplab.spec import directions_of
    from sweeplab.store import best_record

    spec = study.spec
    directions = directions_of(spec)
    names: list[str] = []
    for r in records:
        names += [k for k in r.params if k not in names]
    counts: dict[str, int] = {}
    for r in records:
        counts[r.state] = counts.get(r.state, 0) + 1
    signs = [-1.0 if d == "maximize" else 1.0 for d in directions]
    ranked = sorted(
        records,
        key=lambda r: (
            r.state != "complete",
            signs[0] * ((r.values or [0.0])[0]),
            r.number,
        ),
    )
    shown = ranked if top is None else ranked[:top]
    target = spec.objective.target if spec.objective else "objective"
    title = f"{spec.study.name}: {target}, {spec.search.strategy}, " + ", ".join(
        f"{n} {s}" for s, n in sorted(counts.items())
    )
    value_cols = [f"value {i} ({d})" for i, d in enumerate(directions)]
    constrained = any(r.constraints is not None for r in records)
    table = Table(title=title)
    for col in ["trial", "state", *names, *value_cols, *(["feasible"] * constrained), "steps", "s"]:
        table.add_column(col, justify="right")
    for r in shown:
        values: list[float | None] = [*r.values] if r.values else [None] * len(directions)
        judged = ("-" if r.constraints is None else "yes" if r.feasible else "no",)
        table.add_row(
            str(r.number),
            r.state,
            *(fmt(r.params.get(k)) for k in names),
            *(fmt(v) for v in values),
            *(judged * constrained),
            str(r.epochs_trained),
            f"{r.duration_s:.1f}",
        )
    items: list[Table | str] = [table]
    if constrained:
        items.append(feasibility_line(records))
    if len(directions) > 1:
        front = pareto_front(records, directions)
        pareto = Table(title=f"Pareto front: {len(front)} trials")
        for col in ["trial", *names, *value_cols]:
            pareto.add_column(col, justify="right")
        for r in front:
            pareto.add_row(
                str(r.number),
                *(fmt(r.params.get(k)) for k in names),
                *(fmt(v) for v in r.values or []),
            )
        items.append(pareto)
    else:
        best = best_record(records, maximize=spec.direction == "maximize")
        if best is not None:
            kind = " (feasible)" if constrained else ""
            items.append(f"best{kind}: trial {best.number}, value = {best.objective:.6g}")
        elif constrained:
            items.append("best: none, no complete trial is feasible")
    return items
