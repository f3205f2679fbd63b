"""The study report's findings: how each hyperparameter relates to the metric.

The relations (Spearman's ρ and a verdict per hyperparameter, with the
baseline's noise band in a one-factor-at-a-time design), the fANOVA
importances and the pairwise interactions, each as a table and a figure. They
answer "what mattered", so they share the study frame and the noise band.
"""

from __future__ import annotations

import math
from pathlib import Path

from sweeplab.analysis import (
    MIN_RESAMPLES,
    MIN_TRIALS,
    Interaction,
    Relation,
    StudyFrame,
    importances,
)
from sweeplab.report._document import Figure, Paragraph, Section, Table
from sweeplab.report._figures import heatmap_figure, new_figure, relation_figure, save
from sweeplab.report._format import fmt_value

__all__ = ["baseline_band", "importance_section", "interaction_section", "relations_section"]


def baseline_band(sf: StudyFrame) -> tuple[float, float, float] | None:
    """An ofat study's noise band: (mean, mean - 2 SD, mean + 2 SD) of its repeated baseline."""
    if sf.design != "ofat" or sf.frame.empty:
        return None
    base = sf.frame.loc[sf.frame["label"] == "baseline", "metric"].to_numpy(float)
    if base.size < 2:
        return None
    sd = float(base.std(ddof=1))
    return float(base.mean()), float(base.mean() - 2 * sd), float(base.mean() + 2 * sd)


def _n_baseline(sf: StudyFrame) -> int:
    return int((sf.frame["label"] == "baseline").sum())


def relations_section(
    sf: StudyFrame, rels: list[Relation], fig_dir: Path, files: list[str]
) -> Section:
    """Each hyperparameter against the metric: verdicts, per-value means and one figure each."""
    sec = Section("Hyperparameters and the metric")
    if not rels:
        return sec.add(Paragraph("The design varied no hyperparameter, so there is no relation."))
    sec.add(
        Paragraph(
            f"Metric: {sf.metric}. Each numeric hyperparameter gets two tests: a monotone trend "
            "(a least-squares slope t-test on the variance of repeated trials, or without repeats "
            "Spearman's ρ with an exact permutation p) and an interior extreme (an interior value "
            "beats, or falls below, both ends: t-tests against each end, Bonferroni over the "
            "candidates); its p is twice the smaller. Categorical ones get a one-way F-test. "
            f"Holm's correction across the {len(rels)} hyperparameters keeps the chance of any "
            "false verdict in this study at or below 5% (measured by simulation at every n). "
            "'none' says how large a change would likely have gone unseen."
            + (
                " One-factor-at-a-time: each factor is read from its own trials plus the "
                "baseline runs."
                if sf.design == "ofat"
                else ""
            )
        )
    )
    sec.add(
        Table(
            ("hyperparameter", "relation", "evidence"),
            tuple((r.factor, r.verdict, r.evidence) for r in rels),
        )
    )
    value_rows = []
    for r in rels:
        if all(v.stat.n == 1 for v in r.values) and len(r.values) > 8:
            continue
        for v in r.values:
            value_rows.append((r.factor, fmt_value(v.value, ".3g"), v.stat.text(".4f")))
    sec.add(Table(("hyperparameter", "value", "mean [95% CI] (n)"), tuple(value_rows)))
    band = baseline_band(sf)
    ncols = min(3, len(rels))
    nrows = math.ceil(len(rels) / ncols)
    fig, axes = new_figure(ncols, nrows)
    for ax, rel in zip(axes.flat, rels, strict=False):
        rows = sf.rows_for(rel.factor)[[rel.factor, "metric"]].dropna()
        relation_figure(
            ax, rel, rows[rel.factor].tolist(), rows["metric"].tolist(), sf.metric, band
        )
    for ax in list(axes.flat)[len(rels) :]:
        ax.set_visible(False)
    name = "ofat.png" if sf.design == "ofat" else "relations.png"
    files.append(save(fig, fig_dir / name))
    caption = f"{sf.metric} against each hyperparameter: trials, mean ± 95% CI"
    if band is not None:
        caption += (
            f"; orange band: baseline mean ± 2 SD over {_n_baseline(sf)} baseline runs "
            "(study.repeats)"
        )
    elif sf.design == "ofat":
        caption += "; no noise band (set study.repeats ≥ 2 to run the baseline repeatedly)"
    return sec.add(Figure(name, caption))


def importance_section(sf: StudyFrame, fig_dir: Path, files: list[str]) -> Section:
    """fANOVA importances with their bootstrap spread, as a table and a bar chart."""
    sec = Section("Importance")
    imps = importances(sf)
    if not imps:
        return sec.add(
            Paragraph(
                f"Not computed: fANOVA needs at least {MIN_TRIALS} complete trials, 2 per varied "
                "hyperparameter, and 2 varied hyperparameters (this study: "
                f"{len(sf.frame)} trials, {len(sf.factors)} varied)."
            )
        )
    sec.add(
        Paragraph(
            (
                "fANOVA (Optuna, seeded forests) on all complete trials"
                if imps[0].rows >= imps[0].of
                else f"fANOVA (Optuna, seeded forests) on a seeded sample of {imps[0].rows:,} "
                f"of the {imps[0].of:,} complete trials (its cost grows faster than the trials)"
            )
            + "; the range is the 5–95% "
            f"spread over {imps[0].resamples} bootstrap resamples of the trials (shown only "
            f"with at least {MIN_RESAMPLES} valid resamples)."
            + (
                f" Each resample draws {imps[0].resample_rows:,} of the {imps[0].of:,} trials "
                "(an m-out-of-n bootstrap: wider than the spread at the full size, so "
                "conservative)."
                if imps[0].resample_rows < imps[0].of
                else ""
            )
            + "".join(
                f" {i.factor} does not exist in {i.inactive} trials (a conditional parameter); "
                "it enters as its own value there, so its importance includes when it is active."
                for i in imps
                if i.inactive
            )
            + (
                " In a one-factor-at-a-time design factors never vary together, so read these "
                "as main effects only."
                if sf.design == "ofat"
                else ""
            )
        )
    )
    sec.add(
        Table(
            ("hyperparameter", "importance", "5–95% over resamples", "resamples"),
            tuple(
                (
                    i.factor,
                    fmt_value(i.value, ".3f"),
                    f"{fmt_value(i.low, '.3f')} – {fmt_value(i.high, '.3f')}",
                    str(i.resamples),
                )
                for i in imps
            ),
        )
    )
    fig, axes = new_figure()
    ax = axes[0, 0]
    vals = [i.value for i in imps]
    lo = [max(0.0, i.value - i.low) if math.isfinite(i.low) else 0.0 for i in imps]
    hi = [max(0.0, i.high - i.value) if math.isfinite(i.high) else 0.0 for i in imps]
    ax.barh(
        [i.factor for i in imps][::-1],
        vals[::-1],
        xerr=[lo[::-1], hi[::-1]],
        color="tab:blue",
        capsize=3,
    )
    ax.set_xlabel("fANOVA importance (5–95% bootstrap)")
    files.append(save(fig, fig_dir / "importance.png"))
    return sec.add(Figure("importance.png", "Importance with its bootstrap spread"))


def interaction_section(
    sf: StudyFrame, inters: list[Interaction], fig_dir: Path, files: list[str]
) -> Section:
    """Interaction shares of the covered pairs and heatmaps of the strongest four."""
    sec = Section("Interactions")
    if not inters:
        why = (
            "a one-factor-at-a-time design never varies two factors together"
            if sf.design == "ofat"
            else "no pair of varied hyperparameters fills at least 2×2 cells"
        )
        return sec.add(Paragraph(f"No interaction can be read from this study: {why}."))
    sec.add(
        Paragraph(
            "Cell means of the metric over each covered pair (continuous values in quartile bins). "
            "Interaction share: the part of the cell means' variance that row and column effects "
            "do not explain; 0 means the two act additively. Cells hold few trials, so shares "
            "from single-trial cells include noise."
        )
    )
    sec.add(
        Table(
            ("pair", "interaction share", "filled cells"),
            tuple((f"{i.a} × {i.b}", fmt_value(i.share, ".2f"), str(i.filled)) for i in inters),
        )
    )
    for k, inter in enumerate(inters[:4]):
        fig, axes = new_figure(width=5.5, height=4.0)
        heatmap_figure(axes[0, 0], inter, sf.metric)
        name = f"interaction_{k}_{inter.a}_{inter.b}.png"
        files.append(save(fig, fig_dir / name))
        sec.add(Figure(name, f"{sf.metric} by {inter.a} × {inter.b} (cell mean, n per cell)"))
    return sec
