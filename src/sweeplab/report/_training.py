"""The study report's per-trial training sections: curves, fit, confusion and pruning.

These read each trial's own files (``curves`` per epoch, ``confusion.json``)
rather than the study frame: loss curves of the best, median and worst trials,
final train vs validation loss (over- and underfitting), the best trial's
confusion matrix, and where a pruning strategy stopped its trials.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sweeplab.report._document import Figure, Paragraph, Section, Table
from sweeplab.report._figures import confusion_figure, curves_figure, new_figure, save
from sweeplab.store import Study, TrialRecord, read_confusion, read_curves

__all__ = ["MAX_CURVES", "curve_sample", "curves_section", "pruning_section"]

MAX_CURVES = 1000
"""At most this many trials' ``curves.csv`` are read for a figure or a statistic,
so a report opens a bounded number of files however large the study."""


def curve_sample(numbers: list[int]) -> list[int]:
    """``numbers`` when at most :data:`MAX_CURVES`, else a seeded sample of that many (in order)."""
    if len(numbers) <= MAX_CURVES:
        return numbers
    rng = np.random.default_rng(len(numbers))
    keep = np.sort(rng.choice(len(numbers), size=MAX_CURVES, replace=False))
    return [numbers[i] for i in keep]


_PRUNING_STRATEGIES = frozenset({"hyperband", "asha", "bohb"})
"""Strategies that prune: their report always has a pruning section."""


def curves_section(
    study: Study, ranked: list[TrialRecord], fig_dir: Path, files: list[str]
) -> Section:
    """Loss curves of the best, median and worst trials, final fit and the best's confusion."""
    sec = Section("Training curves")
    if not ranked:
        return sec.add(Paragraph("No complete trial, so no curves."))
    picks = {"best": ranked[0], "median": ranked[len(ranked) // 2], "worst": ranked[-1]}
    curves = {}
    for name, r in picks.items():
        rows = read_curves(study.dir.trial(r.number))
        if rows:
            curves[f"{name} (trial {r.number})"] = rows
    fig, axes = new_figure(width=6.0, height=3.8)
    curves_figure(axes[0, 0], curves)
    files.append(save(fig, fig_dir / "curves.png"))
    sec.add(
        Figure(
            "curves.png",
            "Train (dashed) and validation loss per epoch: best, median "
            "and worst complete trials by the objective",
        )
    )
    final = []
    sampled = curve_sample([r.number for r in ranked])
    for number in sampled:
        rows = read_curves(study.dir.trial(number))
        if rows:
            final.append((rows[-1]["train_loss"], rows[-1]["val_loss"], number))
    if final:
        fig, axes = new_figure(width=5.0, height=4.0)
        ax = axes[0, 0]
        tr = [f[0] for f in final]
        va = [f[1] for f in final]
        ax.scatter(tr, va, s=14, alpha=0.7)
        top = max(max(tr), max(va))
        ax.plot([0, top], [0, top], color="grey", lw=1, ls="--")
        ax.set_xlabel("final train loss")
        ax.set_ylabel("final validation loss")
        ax.set_title("above the diagonal: overfitting; both high: underfitting")
        files.append(save(fig, fig_dir / "fit.png"))
        gap = np.array(va) - np.array(tr)
        which = (
            "every complete trial"
            if len(sampled) == len(ranked)
            else f"a seeded sample of {len(sampled):,} of the {len(ranked):,} complete trials"
        )
        sec.add(Figure("fit.png", f"Final train vs validation loss of {which}"))
        sec.add(
            Paragraph(
                f"Validation minus train loss at the last epoch: median {np.median(gap):.4f}, "
                f"{int((gap > 0).sum())} of {len(gap)} trials above the diagonal."
            )
        )
    conf = read_confusion(study.dir.trial(ranked[0].number))
    if conf is not None:
        n = len(conf["classes"])
        fig, axes = new_figure(width=max(3.5, 0.45 * n + 2), height=max(3.0, 0.45 * n + 1.5))
        confusion_figure(axes[0, 0], [str(c) for c in conf["classes"]], conf["test"])
        axes[0, 0].set_title(f"trial {ranked[0].number}, test split")
        files.append(save(fig, fig_dir / "confusion.png"))
        sec.add(Figure("confusion.png", "Confusion matrix of the best trial on the test split"))
    return sec


def pruning_section(
    study: Study, records: list[TrialRecord], fig_dir: Path, files: list[str]
) -> Section | None:
    """Where trials stopped, pruned or complete; None unless the strategy prunes or one did."""
    if study.spec.search.strategy not in _PRUNING_STRATEGIES and not any(
        r.state == "pruned" for r in records
    ):
        return None
    sec = Section("Pruning")
    stops = sorted({r.epochs_trained for r in records})
    rows = []
    for e in stops:
        at = [r for r in records if r.epochs_trained == e]
        rows.append(
            (
                str(e),
                str(sum(r.state == "pruned" for r in at)),
                str(sum(r.state == "complete" for r in at)),
                str(sum(r.state == "failed" for r in at)),
                str(sum(r.epochs_trained >= e for r in records)),
            )
        )
    pruned = [r for r in records if r.state == "pruned"]
    sec.add(
        Paragraph(
            f"{len(pruned)} of {len(records)} trials were pruned; "
            f"{sum(r.epochs_trained for r in pruned)} epochs were spent on pruned trials and "
            f"{sum(r.epochs_trained for r in records if r.state == 'complete')} on complete ones."
        )
    )
    sec.add(
        Table(
            ("stopped at epoch", "pruned", "complete", "failed", "trials reaching this epoch"),
            tuple(rows),
        )
    )
    fig, axes = new_figure(width=6.0)
    ax = axes[0, 0]
    x = np.arange(len(stops))
    p = [int(r[1]) for r in rows]
    c = [int(r[2]) for r in rows]
    ax.bar(x, p, color="tab:red", label="pruned")
    ax.bar(x, c, bottom=p, color="tab:green", label="complete")
    ax.set_xticks(x)
    ax.set_xticklabels([str(s) for s in stops], rotation=45 if len(stops) > 10 else 0)
    ax.set_xlabel("epochs trained when the trial ended")
    ax.set_ylabel("trials")
    ax.legend()
    files.append(save(fig, fig_dir / "pruning.png"))
    return sec.add(Figure("pruning.png", "Where trials stopped: pruned (red) and complete"))
