"""The report of one study: ``report/report.md``, ``report/report.html``, ``report/figures``.

:func:`write_report` assembles the report: it reads the study once (records,
study frame, rankings with noise, relations, interactions, confirmation), hands
those to the section modules in the report's order and renders the document.
The sections themselves live in ``_overview``, ``_selection``, ``_findings``,
``_training`` and ``_questions``, so each can be read and changed on its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sweeplab.analysis import (
    config_scores,
    interactions,
    rank_with_noise,
    relations,
    study_frame,
    trial_scores,
)
from sweeplab.report._document import Document, render
from sweeplab.report._findings import importance_section, interaction_section, relations_section
from sweeplab.report._ofat import ofat_section
from sweeplab.report._overview import overview_section
from sweeplab.report._questions import questions_section
from sweeplab.report._selection import best_section, confirmation_section, ranked_trials
from sweeplab.report._summary import findings_section
from sweeplab.report._training import curves_section, pruning_section
from sweeplab.store import Study, provenance_n_val, read_confirmation

__all__ = ["ReportFiles", "write_report"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportFiles:
    """Where a report was written."""

    markdown: Path
    html: Path
    figures: tuple[Path, ...]


def write_report(study: Study, out_dir: Path | None = None) -> ReportFiles:
    """Write the study's report (md, self-contained HTML, PNGs); same study, same bytes."""
    out = out_dir or study.dir.root / "report"
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    for old in fig_dir.glob("*.png"):
        old.unlink()
    records = study.records()
    sf = study_frame(study.spec, records)
    ranked = ranked_trials(records, sf.maximize)
    metric = study.spec.study.objective if study.spec.objective is None else "objective"
    n_val = provenance_n_val(study.dir.provenance)
    ranking = rank_with_noise(
        trial_scores(records, metric=metric, n_val=n_val), maximize=sf.maximize
    )
    configs = rank_with_noise(
        config_scores(records, metric=metric, n_val=n_val), maximize=sf.maximize
    )
    confirmation = read_confirmation(study.dir.confirmation)
    rels = relations(sf)
    inters = interactions(sf)
    files: list[str] = []
    doc = Document(f"sweeplab report: {study.spec.study.name}")
    # Findings first, then the evidence, then what was run and where it came from.
    doc.sections.append(findings_section(sf, ranked, ranking, confirmation, rels))
    doc.sections.append(questions_section(study, sf, rels, inters))
    doc.sections.append(best_section(sf, ranked, ranking, configs, confirmation))
    if confirmation is not None:
        doc.sections.append(confirmation_section(confirmation))
    doc.sections.append(relations_section(sf, rels, fig_dir, files))
    ofat = ofat_section(sf)
    if ofat is not None:
        doc.sections.append(ofat)
    doc.sections.append(importance_section(sf, fig_dir, files))
    doc.sections.append(interaction_section(sf, inters, fig_dir, files))
    doc.sections.append(curves_section(study, ranked, fig_dir, files))
    pruning = pruning_section(study, records, fig_dir, files)
    if pruning is not None:
        doc.sections.append(pruning)
    doc.sections.append(overview_section(study, records))
    md, html = render(doc, out)
    _log.info("wrote %s and %s (%d figures)", md, html, len(files))
    return ReportFiles(md, html, tuple(fig_dir / f for f in files))
