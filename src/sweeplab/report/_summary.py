"""The study report's first section: what a reader came for, in sentences.

The best configuration and how sure the study is about it, one sentence per
hyperparameter verdict, and (for one-factor-at-a-time studies) one sentence
per level that differs from the baseline. The evidence follows in the later
sections; the study file and provenance come last.
"""

from __future__ import annotations

import re

from sweeplab.analysis import Ranking, Relation, StudyFrame, level_effects
from sweeplab.report._document import Paragraph, Section
from sweeplab.report._format import fmt_value
from sweeplab.report._ofat import level_sentences
from sweeplab.report._selection import tie_sentence
from sweeplab.store import Confirmation, TrialRecord

__all__ = ["compact_toml", "findings_section", "verdict_sentence"]


def verdict_sentence(rel: Relation, metric: str, maximize: bool) -> str:
    """One hyperparameter's verdict in words, with the test behind it."""
    holm = f"Holm p={rel.p_holm:.2g}"
    if rel.verdict.startswith(("direct", "inverse")):
        up = rel.verdict.startswith("direct")
        better = up == maximize
        text = (
            f"{rel.factor}: higher {rel.factor}, {'higher' if up else 'lower'} {metric} "
            f"({'better' if better else 'worse'}; {holm})"
        )
        if "interior" in rel.verdict:
            text += f", though an interior {rel.extreme} is suggested (not established)"
        return text + "."
    if rel.verdict == "non-monotonic":
        return f"{rel.factor}: not monotonic, {rel.extreme} ({holm})."
    if rel.verdict == "differs":
        return f"{rel.factor}: the values differ; best {rel.extreme} ({holm})."
    if rel.verdict == "too few trials":
        return f"{rel.factor}: too few trials to say ({rel.evidence})."
    return f"{rel.factor}: {rel.evidence.split(' (')[0]}" + (
        f"; a change below ±{rel.detectable:.3g} would likely go unseen at this noise."
        if rel.detectable == rel.detectable and rel.evidence.startswith("no effect detected")
        else f" ({rel.evidence.split(': ', 1)[-1]})."
        if rel.evidence.startswith("no effect detectable")
        else "."
    )


def findings_section(
    sf: StudyFrame,
    ranked: list[TrialRecord],
    ranking: Ranking,
    confirmation: Confirmation | None,
    rels: list[Relation],
) -> Section:
    """Findings first: the best configuration and how sure, then one sentence per verdict."""
    sec = Section("Findings")
    if not ranked:
        return sec.add(Paragraph("No trial completed, so there are no findings."))
    best = ranked[0]
    shown = list(sf.factors) or sorted(best.params)
    config = ", ".join(f"{k}={fmt_value(best.params.get(k), '.3g')}" for k in shown)
    sec.add(Paragraph(f"Best configuration: trial #{best.number} ({config})."))
    sec.add(Paragraph(tie_sentence(ranking, sf.metric)))
    if confirmation is not None:
        sec.add(
            Paragraph(
                f"Confirmation on fresh splits and seeds chose #{confirmation.winner}"
                + (" (a different trial)." if confirmation.winner != best.number else ".")
            )
        )
    _, effects = level_effects(sf)
    if effects:
        sentences = level_sentences(sf, effects)
        sec.add(
            Paragraph(
                "Against the baseline: "
                + (" ".join(sentences) if sentences else "no level differs beyond noise.")
            )
        )
    if rels:
        # In a one-factor-at-a-time study the levels above are the primary reading; the
        # trend verdicts test each factor as a whole, Holm-corrected across factors.
        lead = "Trends across each factor's levels (Holm over factors): " if effects else ""
        trends = " ".join(verdict_sentence(r, sf.metric, sf.maximize) for r in rels)
        sec.add(Paragraph(lead + trends))
    return sec


_ARRAY = re.compile(r"^(\s*[\w.\"-]+ = )\[$")


def compact_toml(text: str) -> str:
    """Multi-line arrays of plain values on one line (``split = [0.7, 0.1, 0.2]``)."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        head = _ARRAY.match(lines[i])
        if head:
            items, j = [], i + 1
            while j < len(lines) and lines[j].strip() != "]":
                items.append(lines[j].strip().rstrip(","))
                j += 1
            if j < len(lines) and not any(s.startswith(("{", "[")) for s in items):
                out.append(f"{head.group(1)}[{', '.join(items)}]")
                i = j + 1
                continue
        out.append(lines[i])
        i += 1
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")
