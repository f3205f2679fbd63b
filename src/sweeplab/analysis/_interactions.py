"""Two-factor interactions: a table of cell means and the share of variance they explain."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sweeplab.analysis._frame import StudyFrame

__all__ = ["Interaction", "interactions"]

MAX_LEVELS = 4


@dataclass(frozen=True)
class Interaction:
    """Cell means of the metric over two factors.

    ``share`` is the interaction sum of squares (cell means minus row and
    column effects, over filled cells) divided by the total sum of squares of
    the cell means: 0 means the factors add, large means they interact.
    """

    a: str
    b: str
    a_levels: tuple[str, ...]
    b_levels: tuple[str, ...]
    means: tuple[tuple[float, ...], ...]
    counts: tuple[tuple[int, ...], ...]
    share: float
    filled: int


def _levels(col: pd.Series, numeric: bool) -> pd.Series:
    """The factor's values, binned into at most 4 quantile bins when continuous."""
    if numeric and col.nunique() > MAX_LEVELS:
        bins = pd.qcut(col.astype(float), MAX_LEVELS, duplicates="drop")
        return bins.map(lambda iv: f"{iv.left:.3g}–{iv.right:.3g}").astype(str)
    if numeric:
        return col.map(lambda v: f"{float(v):g}")
    return col.astype(str)


def _order(labels: pd.Series, raw: pd.Series) -> list[str]:
    first = pd.DataFrame({"l": labels, "r": raw}).groupby("l")["r"].min()
    try:
        return [str(k) for k in first.sort_values().index]
    except TypeError:
        return sorted(str(k) for k in first.index)


def interactions(sf: StudyFrame) -> list[Interaction]:
    """Every pair the design covers (≥ 2×2 levels with ≥ 4 filled cells), strongest first.

    One-factor-at-a-time designs cover no pair: each trial varies one factor.
    """
    if sf.design == "ofat" or sf.frame.empty:
        return []
    out = []
    for a, b in itertools.combinations(sf.factors, 2):
        data = sf.frame[[a, b, "metric"]].dropna()
        if len(data) < 4:
            continue
        la = _levels(data[a], sf.is_numeric(a))
        lb = _levels(data[b], sf.is_numeric(b))
        oa, ob = _order(la, data[a]), _order(lb, data[b])
        if len(oa) < 2 or len(ob) < 2:
            continue
        cells = data.assign(_a=la.values, _b=lb.values).groupby(["_a", "_b"])["metric"]
        mean = cells.mean().unstack().reindex(index=oa, columns=ob)
        count = cells.size().unstack().reindex(index=oa, columns=ob).fillna(0).astype(int)
        filled = int(mean.notna().to_numpy().sum())
        if filled < 4 or (mean.notna().sum(axis=1) >= 2).sum() < 2:
            continue
        m = mean.to_numpy(float)
        grand = np.nanmean(m)
        row = np.nanmean(m, axis=1, keepdims=True) - grand
        col = np.nanmean(m, axis=0, keepdims=True) - grand
        resid = m - grand - row - col
        total = float(np.nansum((m - grand) ** 2))
        share = float(np.nansum(resid**2) / total) if total > 0 else 0.0
        out.append(
            Interaction(
                a,
                b,
                tuple(oa),
                tuple(ob),
                tuple(tuple(float(v) for v in r) for r in m),
                tuple(tuple(int(v) for v in r) for r in count.to_numpy()),
                share,
                filled,
            )
        )
    return sorted(out, key=lambda i: (-i.share, i.a, i.b))
