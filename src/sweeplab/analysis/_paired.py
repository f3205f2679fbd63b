"""The paired fold-wise tie test: every trial of a cross-validated study sees the same folds.

``tied_with_best`` compares scores unpaired, which is conservative because
trials scored on the same folds share the folds' difficulty. With the folds'
own scores in the records, the best and another trial can be compared fold by
fold: the differences ``d_f`` get Nadeau and Bengio's corrected resampled t,
``t = mean(d) / sqrt((1/J + n_val/n_train) s_d²)`` with ``J - 1`` degrees of
freedom, so overlapping training sets do not make the test overconfident.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from sweeplab.store import TrialRecord

__all__ = ["PairedTie", "paired_fold_ties"]


@dataclass(frozen=True)
class PairedTie:
    """The best trial against one other on their shared folds."""

    trial: int
    diff: float
    t: float
    p: float
    tied: bool


def _fold_values(record: TrialRecord, name: str) -> list[float] | None:
    vals = [(f.get("val") or {}).get(name) for f in record.folds or []]
    if not vals or any(v is None or not math.isfinite(float(v)) for v in vals):
        return None
    return [float(v) for v in vals if v is not None]


def _ratio(record: TrialRecord, folds: int) -> float:
    sizes = [(f.get("n_train"), f.get("n_val")) for f in record.folds or []]
    if sizes and all(nt and nv for nt, nv in sizes):
        return float(np.mean([float(nv) / float(nt) for nt, nv in sizes]))  # type: ignore[arg-type]
    return 1.0 / (folds - 1)


def paired_fold_ties(
    records: Sequence[TrialRecord], *, metric: str, maximize: bool, alpha: float = 0.05
) -> list[PairedTie]:
    """The best cross-validated trial against every other on the same folds (empty without folds).

    ``tied`` is true when the two-sided corrected paired t-test at ``alpha``
    does not separate them; the list is best-first by the other trial's score.
    """
    name = metric.removeprefix("val_")
    scored = []
    for r in records:
        if r.state != "complete" or r.objective is None:
            continue
        vals = _fold_values(r, name)
        if vals is not None and len(vals) >= 2:
            scored.append((r, np.asarray(vals)))
    if len(scored) < 2 or len({v.size for _, v in scored}) != 1:
        return []
    sign = 1.0 if maximize else -1.0
    scored.sort(key=lambda rv: (-sign * float(rv[0].objective or 0.0), rv[0].number))
    best, best_vals = scored[0]
    j = best_vals.size
    ratio = _ratio(best, j)
    crit = float(stats.t.ppf(1 - alpha / 2, j - 1))
    out = []
    for r, other in scored[1:]:
        d = best_vals - other
        sd = float(d.std(ddof=1))
        mean = float(d.mean())
        zero = math.inf if mean != 0 else 0.0
        t = zero if sd == 0 else mean / (sd * math.sqrt(1 / j + ratio))
        p = float(2 * stats.t.sf(abs(t), j - 1)) if math.isfinite(t) else 0.0
        out.append(PairedTie(r.number, mean, t, p, abs(t) < crit))
    return out
