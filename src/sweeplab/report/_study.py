"""The report of one study: ``report/report.md``, ``report/report.html``, ``report/figures``."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sweeplab.analysis import (
    Interaction,
    Relation,
    StudyFrame,
    bootstrap_ci,
    config_scores,
    interactions,
    mean_ci,
    rank_with_noise,
    relations,
    spearman_ci,
    study_frame,
    trial_scores,
)
from sweeplab.report._document import Document, Section, Table, render
from sweeplab.report._findings import (
    baseline_band,
    importance_section,
    interaction_section,
    relations_section,
)
from sweeplab.report._format import fmt_value
from sweeplab.report._overview import overview_section
from sweeplab.report._selection import best_section, confirmation_section, ranked_trials
from sweeplab.report._training import curves_section, pruning_section
from sweeplab.store import (
    Study,
    provenance_n_val,
    read_confirmation,
    read_curves,
)

__all__ = ["ReportFiles", "write_report"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportFiles:
    """Where a report was written."""

    markdown: Path
    html: Path
    figures: tuple[Path, ...]


def _noise_sd(sf: StudyFrame) -> float | None:
    band = baseline_band(sf)
    if band is not None:
        return (band[2] - band[0]) / 2
    return None


def _questions(
    study: Study, sf: StudyFrame, rels: list[Relation], inters: list[Interaction]
) -> Section:
    sec = Section("Study questions")
    q = []
    # 1. epochs
    gains, per_epoch_s = [], []
    key = sf.metric
    for _, row in sf.frame.iterrows():
        rows = read_curves(study.dir.trial(int(row["trial"])))
        if len(rows) >= 4 and key in rows[0]:
            mid = len(rows) // 2
            gains.append((rows[-1][key] - rows[mid - 1][key]) / (len(rows) - mid))
        if row["epochs_trained"]:
            per_epoch_s.append(float(row["duration_s"]) / float(row["epochs_trained"]))
    rel = {r.factor: r for r in rels}
    if gains:
        g = np.asarray(gains)
        lo, hi = bootstrap_ci(g.size, lambda idx: float(np.median(g[idx])))
        text = (
            f"Over the second half of training, {key} changed by a median {np.median(g):+.4f} "
            f"per epoch [95% CI {fmt_value(lo, '+.4f')}, {fmt_value(hi, '+.4f')}] "
            f"(n={g.size} trials), at a "
            f"median {np.median(per_epoch_s):.3f} s per epoch per trial (fused groups share this "
            "time)."
        )
        if "epochs" in rel:
            ep = rel["epochs"]
            text += f" Across trials, epochs vs {key}: {ep.verdict}, {ep.evidence}."
        else:
            text += " Epochs were not varied, so this comes from the curves only."
    else:
        text = "Not answerable: no complete trial has at least 4 epochs of curves."
    q.append(("What do more epochs buy, and cost?", text))
    # 2. factors of 2
    noise = _noise_sd(sf)
    doubling = []
    for r in rels:
        vals = [v for v in r.values if not isinstance(v.value, str)]
        nums = [float(v.value) for v in vals]
        if len(nums) >= 3 and min(nums) > 0:
            ratios = np.array(nums[1:]) / np.array(nums[:-1])
            if np.all(np.abs(ratios - 2) < 0.05):
                doubling.append((r, vals))
    if not doubling:
        text = "Not answerable: no hyperparameter was varied in steps of a factor of 2."
    else:
        parts = []
        for r, vals in doubling:
            means = [v.stat.value for v in vals]
            b = int(np.argmax(means) if sf.maximize else np.argmin(means))
            nb = [abs(means[b] - means[j]) for j in (b - 1, b + 1) if 0 <= j < len(means)]
            step = min(nb)
            ref = noise if noise is not None else _pooled_sd(vals)
            if ref is None:
                verdict = "no noise estimate (repeat the baseline with study.repeats ≥ 2)"
            elif b in (0, len(means) - 1) and step > 2 * ref:
                edge = "smallest" if b == 0 else "largest"
                verdict = (
                    f"the best is the {edge} value tried, more than 2 noise SD "
                    f"({2 * ref:.4f}) ahead: the optimum may lie beyond the range"
                )
            elif step <= 2 * ref:
                verdict = f"within 2 noise SD ({2 * ref:.4f}): ×2 steps were fine enough"
            else:
                verdict = (
                    f"more than 2 noise SD ({2 * ref:.4f}): a finer step may find a better value"
                )
            parts.append(
                f"{r.factor}: best {vals[b].value:g}, nearest neighbour differs by {step:.4f}, "
                f"{verdict}"
            )
        text = "; ".join(parts) + "."
    q.append(("Were factors of 2 enough resolution?", text))
    # 3. interactions
    if inters:
        top = inters[0]
        text = (
            f"Strongest: {top.a} × {top.b}, interaction share {top.share:.2f} over "
            f"{top.filled} cells; "
            + ", ".join(f"{i.a} × {i.b} {i.share:.2f}" for i in inters[1:4])
            + (
                " (shares near 0 mean the factors add; cells with one trial include noise)."
                if inters[1:4]
                else " (no other pair covered)."
            )
        )
    else:
        text = (
            "Not answerable from this design: it never varies two hyperparameters together."
            if sf.design == "ofat"
            else "Not answerable: no pair of varied hyperparameters covers 2×2 cells."
        )
    q.append(("Which interactions matter?", text))
    # 4. steps vs epochs
    fr = sf.frame
    if len(fr) >= 3 and fr["train_steps"].nunique() > 1 and fr["epochs_trained"].nunique() > 1:
        rs = spearman_ci(fr["train_steps"].to_numpy(float), fr["metric"].to_numpy(float))
        re = spearman_ci(fr["epochs_trained"].to_numpy(float), fr["metric"].to_numpy(float))
        stronger = "train steps" if abs(rs.value) > abs(re.value) else "epochs"
        text = (
            f"{key} vs train steps ρ={rs.text('.2f')}; vs epochs ρ={re.text('.2f')}: "
            f"{stronger} track the metric more closely in this study"
            + (
                " (the intervals overlap, so the difference is not established)."
                if not (rs.low > re.high or re.low > rs.high)
                else "."
            )
        )
    elif fr.empty or fr["train_steps"].nunique() <= 1:
        text = "Not answerable: every complete trial took the same number of train steps."
    else:
        steps = mean_ci(fr["train_steps"].to_numpy(float))
        text = (
            "Not answerable: every complete trial trained the same number of epochs, so steps "
            f"varied only through batch size (mean {steps.value:.0f} steps); see batch_size above."
        )
    q.append(("Train steps or epochs?", text))
    sec.add(Table(("question", "answer from this study"), tuple(q)))
    return sec


def _pooled_sd(vals: list[Any]) -> float | None:
    widths = []
    for v in vals:
        if v.stat.n >= 2 and math.isfinite(v.stat.low):
            widths.append((v.stat.high - v.stat.low) / 2 / 1.96 * math.sqrt(v.stat.n))
    return float(np.mean(widths)) if widths else None


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
    doc.sections.append(overview_section(study, records))
    doc.sections.append(best_section(sf, ranked, ranking, configs, confirmation))
    if confirmation is not None:
        doc.sections.append(confirmation_section(confirmation))
    doc.sections.append(relations_section(sf, rels, fig_dir, files))
    doc.sections.append(importance_section(sf, fig_dir, files))
    doc.sections.append(interaction_section(sf, inters, fig_dir, files))
    doc.sections.append(curves_section(study, ranked, fig_dir, files))
    pruning = pruning_section(study, records, fig_dir, files)
    if pruning is not None:
        doc.sections.append(pruning)
    doc.sections.append(_questions(study, sf, rels, inters))
    md, html = render(doc, out)
    _log.info("wrote %s and %s (%d figures)", md, html, len(files))
    return ReportFiles(md, html, tuple(fig_dir / f for f in files))
