"""``sweeplab status`` of an objective study: trials by value and, with several objectives,
the Pareto front."""

from __future__ import annotations

from rich.table import Table

from sweeplab.analysis import pareto_front
from sweeplab.spec import directions_of
from sweeplab.store import Study

__all__ = ["objective_status"]


def _fmt(value: object) -> str:
    if value is None or value != value:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def objective_status(study: Study, top: int | None) -> list[Table | str]:
    """Renderables for ``sweeplab status`` of an objective study (the CLI prints them)."""
    spec = study.spec
    directions = directions_of(spec)
    records = study.records()
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
    table = Table(title=title)
    for col in ["trial", "state", *names, *value_cols, "steps", "s"]:
        table.add_column(col, justify="right")
    for r in shown:
        values: list[float | None] = [*r.values] if r.values else [None] * len(directions)
        table.add_row(
            str(r.number),
            r.state,
            *(_fmt(r.params.get(k)) for k in names),
            *(_fmt(v) for v in values),
            str(r.epochs_trained),
            f"{r.duration_s:.1f}",
        )
    out: list[Table | str] = [table]
    if len(directions) > 1:
        front = pareto_front(records, directions)
        pareto = Table(title=f"Pareto front: {len(front)} trials")
        for col in ["trial", *names, *value_cols]:
            pareto.add_column(col, justify="right")
        for r in front:
            pareto.add_row(
                str(r.number),
                *(_fmt(r.params.get(k)) for k in names),
                *(_fmt(v) for v in r.values or []),
            )
        out.append(pareto)
    else:
        best = study.best()
        if best is not None:
            out.append(f"best: trial {best.number}, value = {best.objective:.6g}")
    return out
