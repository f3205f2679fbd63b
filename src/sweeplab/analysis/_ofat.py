"""One factor at a time: each level read against the repeated baseline with a t interval.

The baseline runs ``study.repeats`` times; its sample SD is the noise every
single-run level is read against, with ``n_baseline - 1`` degrees of freedom
(plus those of any repeated level), so at 3 baseline runs the 95% multiplier
is t(2) = 4.30, not 1.96. Each level's difference from the baseline mean gets
that t interval; the verdict is "better"/"worse" when the interval excludes 0
(a per-level 5% test), and whether it also holds after Holm's correction over
all levels is reported next to it. When the interval includes 0, the number of
baseline runs that would separate the observed difference is given (or that
the level itself must be repeated, when no number of baseline runs would).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from sweeplab.analysis._frame import StudyFrame
from sweeplab.analysis._trend import holm

__all__ = ["BaselineNoise", "LevelEffect", "level_effects"]

ALPHA = 0.05
MAX_RUNS = 100
FAR = 3.0  # "far" better/worse: the difference exceeds FAR times its interval's half-width


@dataclass(frozen=True)
class BaselineNoise:
    """The repeated baseline: its runs, mean, SD, degrees of freedom and 95% t multiplier.

    ``single_run_detectable`` is the smallest difference a single-run level
    can show and still be separated (the half-width of its 95% interval).
    """

    n: int
    mean: float
    sd: float
    dof: int
    t: float
    single_run_detectable: float

    def detectable_with(self, runs: int) -> float:
        """The same half-width if the baseline had ``runs`` runs (same SD)."""
        t = float(stats.t.ppf(1 - ALPHA / 2, self.dof - self.n + runs))
        return t * self.sd * math.sqrt(1 + 1 / runs)


@dataclass(frozen=True)
class LevelEffect:
    """One level of one factor (or one config) against the baseline mean."""

    factor: str
    value: float | str
    n: int
    mean: float
    diff: float
    low: float
    high: float
    p: float
    p_holm: float
    verdict: str
    needed: int | None

    @property
    def separated(self) -> bool:
        return self.verdict in ("better", "worse", "far better", "far worse")


def _needed(diff: float, sd: float, n_level: int, dof_other: int) -> int | None:
    """Baseline runs that would give a 95% interval excluding ``diff`` (None: never)."""
    runs = np.arange(2, MAX_RUNS + 1)
    half = stats.t.ppf(1 - ALPHA / 2, runs - 1 + dof_other) * sd * np.sqrt(1 / n_level + 1 / runs)
    ok = np.flatnonzero(half < abs(diff))
    return int(runs[ok[0]]) if ok.size else None


def level_effects(sf: StudyFrame) -> tuple[BaselineNoise | None, list[LevelEffect]]:
    """Every non-baseline level (and config) of an ofat study against the baseline.

    The noise is ``None`` (and verdicts say "no noise estimate") when the
    baseline ran fewer than 2 times. Empty for other designs.
    """
    frame = sf.frame
    if sf.design != "ofat" or frame.empty:
        return None, []
    base = frame.loc[frame["label"] == "baseline", "metric"].to_numpy(float)
    groups: list[tuple[str, float | str, np.ndarray]] = []
    for label, rows in frame[frame["label"] != "baseline"].groupby("label", sort=False):
        name = str(label)
        if name.startswith("config"):
            groups.append(("config", name, rows["metric"].to_numpy(float)))
            continue
        for value, sub in rows.groupby(name, sort=True):
            level = value if isinstance(value, str) else float(value)  # type: ignore[arg-type]
            groups.append((name, level, sub["metric"].to_numpy(float)))
    dof_other = sum(g.size - 1 for _, _, g in groups)
    dof = base.size - 1 + dof_other
    if base.size < 2 or dof < 1:
        out = [
            LevelEffect(f, v, g.size, float(g.mean()), math.nan, math.nan, math.nan, math.nan,
                        math.nan, "no noise estimate", None)
            for f, v, g in groups
        ]  # fmt: skip
        return None, out
    ss = float(((base - base.mean()) ** 2).sum()) + sum(
        float(((g - g.mean()) ** 2).sum()) for _, _, g in groups
    )
    sd = math.sqrt(ss / dof)
    t = float(stats.t.ppf(1 - ALPHA / 2, dof))
    noise = BaselineNoise(
        base.size, float(base.mean()), sd, dof, t, t * sd * math.sqrt(1 + 1 / base.size)
    )
    raw = []
    for f, v, g in groups:
        diff = float(g.mean() - base.mean())
        se = sd * math.sqrt(1 / g.size + 1 / base.size)
        p = float(2 * stats.t.sf(abs(diff) / se, dof)) if se > 0 else float(diff == 0)
        raw.append((f, v, g, diff, se, p))
    adjusted = holm([r[5] for r in raw])
    sign = 1.0 if sf.maximize else -1.0
    out = []
    for (f, v, g, diff, se, p), ph in zip(raw, adjusted, strict=True):
        low, high = diff - t * se, diff + t * se
        needed = None
        if low <= 0 <= high:
            verdict = "within noise"
            needed = _needed(diff, sd, g.size, dof_other)
        else:
            verdict = "better" if sign * diff > 0 else "worse"
            if abs(diff) > FAR * t * se:
                verdict = f"far {verdict}"
        out.append(
            LevelEffect(f, v, g.size, float(g.mean()), diff, low, high, p, ph, verdict, needed)
        )
    return noise, out
