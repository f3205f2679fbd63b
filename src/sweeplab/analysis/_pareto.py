"""The Pareto front of a multi-objective study."""

from __future__ import annotations

from collections.abc import Sequence

from sweeplab.store import TrialRecord

__all__ = ["pareto_front"]


def _dominates(a: Sequence[float], b: Sequence[float], signs: Sequence[float]) -> bool:
    better_or_equal = all(s * x >= s * y for x, y, s in zip(a, b, signs, strict=True))
    return better_or_equal and any(s * x > s * y for x, y, s in zip(a, b, signs, strict=True))


def pareto_front(records: Sequence[TrialRecord], directions: Sequence[str]) -> list[TrialRecord]:
    """The complete trials no other complete trial dominates, by trial number."""
    signs = [1.0 if d == "maximize" else -1.0 for d in directions]
    done = [r for r in records if r.state == "complete" and r.values is not None]
    return [
        r
        for r in done
        if not any(_dominates(o.values or [], r.values or [], signs) for o in done if o is not r)
    ]
