"""The study report's last section: the study questions, answered from this study's numbers.

What more epochs buy and cost, whether steps of a factor of 2 were fine enough,
which interactions matter, and whether train steps or epochs track the metric.
Each answer combines results of the other sections (relations, interactions,
the baseline's noise band, the curves) into a sentence, or says why this
study's design cannot answer it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from sweeplab.analysis import (
    Interaction,
    Relation,
    StudyFrame,
    bootstrap_ci,
    mean_ci,
    spearman_test,
)
from sweeplab.report._document import Section, Table
from sweeplab.report._findings import baseline_band
from sweeplab.report._format import fmt_value
from sweeplab.report._training import curve_sample
from sweeplab.store import Study, read_curves

__all__ = ["questions_section"]


def _noise_sd(sf: StudyFrame) -> float | None:
    band = baseline_band(sf)
    if band is not None:
        return (band[2] - band[0]) / 2
    return None


def questions_section(
    study: Study, sf: StudyFrame, rels: list[Relation], inters: list[Interaction]
) -> Section:
    """The four study questions as a table of answers (or why this study cannot answer one)."""
    sec = Section("Study questions")
    q = []
    # 1. epochs
    gains: list[float] = []
    key = sf.metric
    trained = sf.frame[sf.frame["epochs_trained"] > 0]
    per_epoch_s = list(trained["duration_s"].to_numpy(float) / trained["epochs_trained"])
    long = sf.frame.loc[sf.frame["epochs_trained"] >= 4, "trial"]
    for number in curve_sample([int(n) for n in long]):
        rows = read_curves(study.dir.trial(number))
        if len(rows) >= 4 and key in rows[0]:
            mid = len(rows) // 2
            gains.append((rows[-1][key] - rows[mid - 1][key]) / (len(rows) - mid))
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
        y = fr["metric"].to_numpy(float)
        rs, ps = spearman_test(fr["train_steps"].to_numpy(float), y)
        re, pe = spearman_test(fr["epochs_trained"].to_numpy(float), y)
        larger = "train steps" if abs(rs) > abs(re) else "epochs"
        text = (
            f"{key} vs train steps ρ={rs:.2f} (permutation p={ps:.2g}); vs epochs ρ={re:.2f} "
            f"(p={pe:.2g}), n={len(fr)}: |ρ| is larger for {larger}. Both are read from the same "
            "trials and steps grow with epochs, so which one tracks the metric more closely "
            "is not established by this difference."
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
    """The within-value SD pooled over values with repeats (variances weighted by df).

    Each value's SD is recovered from its t interval: half-width x sqrt(n) / t(0.975, n-1)
    (dividing by 1.96 instead inflated it 2.2x at n = 3).
    """
    ss, dof = 0.0, 0
    for v in vals:
        n = v.stat.n
        if n >= 2 and math.isfinite(v.stat.low):
            sd = (v.stat.high - v.stat.low) / 2 * math.sqrt(n) / float(stats.t.ppf(0.975, n - 1))
            ss += (n - 1) * sd**2
            dof += n - 1
    return math.sqrt(ss / dof) if dof else None
