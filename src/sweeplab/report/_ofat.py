"""The one-factor-at-a-time section: each level against the repeated baseline, in words.

It renders ``analysis.level_effects``: a sentence on what the baseline's runs
can separate (and how many runs would separate more), one sentence per level
that differs, and the table of every level with its t interval, the verdict,
whether it holds after Holm's correction and the runs needed where it does not.
"""

from __future__ import annotations

import math

from sweeplab.analysis import BaselineNoise, LevelEffect, StudyFrame, level_effects
from sweeplab.report._document import Paragraph, Section, Table
from sweeplab.report._format import fmt_value

__all__ = ["level_sentences", "ofat_section"]


def _value(e: LevelEffect) -> str:
    v = e.value
    if e.factor == "config":
        return str(v)
    return f"{e.factor}={v:g}" if isinstance(v, float) else f"{e.factor}={v}"


def _noise_text(noise: BaselineNoise | None, metric: str) -> str:
    if noise is None:
        return (
            "The baseline ran once, so there is no noise estimate and no level can be separated "
            "from it: run the baseline at least 3 times (study.repeats = 3)."
        )
    text = (
        "The baseline runs differ only in their seed (same split), so this is seed noise; "
        "every level is scored on the same validation set. "
        f"Baseline: {metric} {noise.mean:.4f} over {noise.n} runs, SD {noise.sd:.4f} "
        f"({noise.dof} degrees of freedom, 95% t multiplier {noise.t:.2f}). A single-run level "
        f"is separated from the baseline only when it differs by more than "
        f"{noise.single_run_detectable:.4f}."
    )
    if noise.t > 2.5:
        more = max(noise.n + 1, 8)
        text += (
            f" {noise.n} baseline runs are too few to separate small effects: with {more} runs "
            f"(same SD) that threshold would be {noise.detectable_with(more):.4f}."
        )
    return text


def level_sentences(sf: StudyFrame, effects: list[LevelEffect]) -> list[str]:
    """One sentence per separated level: '10 epochs beat the baseline (5) by +0.0157 [...]'."""
    base_rows = sf.frame[sf.frame["label"] == "baseline"]
    base_value = {
        e.factor: fmt_value(base_rows[e.factor].iloc[0], "g")
        for e in effects
        if e.factor in base_rows.columns and not base_rows.empty
    }
    out = []
    for e in effects:
        if not e.separated:
            continue
        base = f" ({e.factor}={base_value[e.factor]})" if e.factor in base_value else ""
        holds = "holds" if e.p_holm <= 0.05 else "does not hold"
        out.append(
            f"{_value(e)} is {e.verdict} than the baseline{base}: {e.diff:+.4f} "
            f"[95% CI {e.low:+.4f}, {e.high:+.4f}] ({holds} after Holm over {len(effects)} levels)."
        )
    return out


def ofat_section(sf: StudyFrame) -> Section | None:
    """The levels-vs-baseline verdicts of an ofat study; ``None`` for other designs."""
    noise, effects = level_effects(sf)
    if sf.design != "ofat" or not effects:
        return None
    sec = Section("One factor at a time: each level against the baseline")
    sec.add(Paragraph(_noise_text(noise, sf.metric)))
    sentences = level_sentences(sf, effects)
    if sentences:
        sec.add(Paragraph(" ".join(sentences)))
    sec.add(
        Paragraph(
            "Difference = level mean − baseline mean with a 95% Student-t interval (pooled SD of "
            "the baseline runs and any repeated level). better/worse: the interval excludes 0 "
            "(a 5% test per level); far: the difference is more than 3 times the interval's "
            "half-width; 'holds after Holm' corrects "
            "for testing every level. Where a level is within noise, 'to separate' is the number "
            "of baseline runs whose interval would exclude the observed difference."
        )
    )
    rows = []
    for e in effects:
        if e.verdict == "within noise":
            sep = f"{e.needed} baseline runs" if e.needed else "repeat the level too"
        else:
            sep = "-"
        rows.append(
            (
                e.factor,
                fmt_value(e.value, ".3g"),
                str(e.n),
                f"{e.mean:.4f}",
                "-"
                if not math.isfinite(e.diff)
                else f"{e.diff:+.4f} [{e.low:+.4f}, {e.high:+.4f}]",
                e.verdict,
                "-" if not math.isfinite(e.p_holm) else ("yes" if e.p_holm <= 0.05 else "no"),
                sep,
            )
        )
    return sec.add(
        Table(
            (
                "factor",
                "value",
                "runs",
                sf.metric,
                "vs baseline [95% CI]",
                "verdict",
                "holds after Holm",
                "to separate",
            ),
            tuple(rows),
        )
    )
