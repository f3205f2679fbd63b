"""The study report's last section: what was run, on what, and where it came from.

It reads ``provenance.json`` (data, platform, versions, git) and the resolved
study file, so a reader can tell how the study was set up and reproduce it
without opening the study directory; nothing here ranks or analyses trials.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sweeplab.report._document import Code, Paragraph, Section, Table
from sweeplab.report._summary import compact_toml
from sweeplab.store import Study, TrialRecord, read_provenance

__all__ = ["overview_section"]


def _span(records: list[TrialRecord]) -> float:
    """Seconds from the first trial's start to the last trial's end (0 when unknown)."""
    starts = [datetime.fromisoformat(r.started_at) for r in records if r.started_at]
    ends = [datetime.fromisoformat(r.finished_at) for r in records if r.finished_at]
    return (max(ends) - min(starts)).total_seconds() if starts and ends else 0.0


def overview_section(study: Study, records: list[TrialRecord]) -> Section:
    """The "Study" section: trial counts, budget, time, data, device, versions, study file."""
    spec = study.spec
    sec = Section("Study file and provenance")
    counts: dict[str, int] = {}
    for r in records:
        counts[r.state] = counts.get(r.state, 0) + 1
    budget = spec.search.trials
    sec.add(
        Paragraph(
            f"Study {spec.study.name}: strategy {spec.search.strategy}, objective "
            f"{spec.study.objective} ({spec.direction}, on the validation split; test metrics "
            "are reported only, never used to choose a trial)."
        )
    )
    prov: dict[str, Any] = {}
    if study.dir.provenance.exists():
        prov = read_provenance(study.dir.provenance)
    data = prov.get("data", {})
    plat = prov.get("platform", {})
    vers = prov.get("versions", {})
    git = prov.get("git") or {}
    rows = [
        ("trials", ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"),
        ("budget", f"{len(records)} of {budget}" if budget else f"{len(records)} (design)"),
        ("epochs trained", str(sum(r.epochs_trained for r in records))),
        ("train steps", str(sum(r.train_steps for r in records))),
        ("trial time (sum)", f"{sum(r.duration_s for r in records):.1f} s"),
        ("wall time (first start to last end)", f"{_span(records):.0f} s"),
        (
            "data",
            f"{data.get('name', '?')} ({data.get('source', '?')}): train {data.get('n_train')}, "
            f"val {data.get('n_val')}, test {data.get('n_test')}, "
            f"{data.get('n_features')} features, {data.get('n_classes')} classes",
        ),
        ("data fingerprint", str(data.get("fingerprint", "-"))[:16]),
        ("device", f"{plat.get('device', '?')} ({plat.get('cpu', '?')}, gpu {plat.get('gpu')})"),
        ("versions", ", ".join(f"{k} {v}" for k, v in sorted(vers.items()))),
        ("git", f"{git.get('commit', '-')} dirty={git.get('dirty', '-')}" if git else "-"),
        ("created", str(prov.get("created_at", "-"))),
    ]
    judged = [r for r in records if r.constraints is not None]
    if judged:
        best = study.best()
        rows.insert(
            1,
            (
                f"constraints ({spec.search.constraints or 'trial.set_constraint'})",
                f"{sum(r.feasible for r in judged)} of {len(judged)} judged trials feasible "
                "(every value <= 0); best feasible trial: "
                + (f"{best.number} ({best.objective:.6g})" if best is not None else "none"),
            ),
        )
    sec.add(Table(("item", "value"), tuple(rows)))
    sec.add(
        Code(
            compact_toml(study.dir.spec_file.read_text(encoding="utf-8")),
            "toml",
            collapsed=True,
            summary="The resolved study file (every default filled in)",
        )
    )
    return sec
