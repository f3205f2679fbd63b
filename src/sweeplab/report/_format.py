"""How the study report writes numbers and counts in its tables and sentences.

Every section of the study report formats values the same way (``-`` for a
missing or non-finite value, fewer digits for tiny ones); keeping the helpers
in one module keeps the sections' output consistent.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["fmt_pm", "fmt_score", "fmt_value", "plural"]


def fmt_value(v: Any, fmt: str = ".4f") -> str:
    """A table cell: ``-`` when missing or not finite, floats with ``fmt`` (3 digits when tiny)."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:{fmt}}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3g}"
    return str(v)


def fmt_score(x: float | None) -> str:
    """A score or SE in sentences and the noise tables: 3 decimals (3 digits when tiny)."""
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:.3f}" if abs(x) >= 0.01 or x == 0 else f"{x:.3g}"


def fmt_pm(value: float, se: float | None) -> str:
    """``value ± se``, or ``value (SE unknown)`` when there is no standard error."""
    return (
        f"{fmt_score(value)} ± {fmt_score(se)}"
        if se is not None
        else f"{fmt_score(value)} (SE unknown)"
    )


def plural(n: int, word: str) -> str:
    """``1 trial``, ``2 trials``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
