"""Matplotlib figures (Agg backend) saved as byte-stable PNGs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from sweeplab.analysis import Interaction, Relation

__all__ = [
    "confusion_figure",
    "curves_figure",
    "heatmap_figure",
    "new_figure",
    "relation_figure",
    "save",
]

_RC: Any = {"svg.hashsalt": "sweeplab", "font.size": 9, "figure.dpi": 100}


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 5.0, height: float = 3.4) -> Any:
    with plt.rc_context(_RC):
        return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)


def save(fig: Any, path: Path) -> str:
    """Write ``fig`` as PNG without timestamps or version metadata; returns the file name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return path.name


def _positions(rel: Relation) -> tuple[list[float], list[str], bool]:
    keys = [v.value for v in rel.values]
    numeric = all(not isinstance(k, str) for k in keys)
    if numeric:
        nums = [float(k) for k in keys]
        log = min(nums) > 0 and max(nums) / min(nums) >= 16
        return nums, [f"{k:.3g}" for k in nums], log
    return [float(i) for i in range(len(keys))], [str(k) for k in keys], False


def relation_figure(
    ax: Any,
    rel: Relation,
    xs_points: Sequence[Any],
    ys_points: Sequence[float],
    metric: str,
    band: tuple[float, float, float] | None = None,
) -> None:
    """Points, the mean with its 95% CI where values repeat, and an optional noise band."""
    pos, labels, log = _positions(rel)
    lookup = {str(v.value): p for v, p in zip(rel.values, pos, strict=True)}
    px = [lookup[str(x)] for x in xs_points]
    ax.scatter(px, ys_points, s=14, alpha=0.5, color="tab:blue", label="trials")
    if len(rel.values) > 8 and all(v.stat.n == 1 for v in rel.values):
        _finish(ax, rel, metric, band, log, None, labels)
        return
    means = [v.stat.value for v in rel.values]
    low = [v.stat.low if math.isfinite(v.stat.low) else v.stat.value for v in rel.values]
    high = [v.stat.high if math.isfinite(v.stat.high) else v.stat.value for v in rel.values]
    err = np.array([np.subtract(means, low), np.subtract(high, means)])
    ax.errorbar(
        pos,
        means,
        yerr=err,
        color="black",
        marker="o",
        ms=4,
        capsize=3,
        lw=1,
        label="mean ± 95% CI",
    )
    _finish(ax, rel, metric, band, log, pos, labels)


def _finish(
    ax: Any,
    rel: Relation,
    metric: str,
    band: tuple[float, float, float] | None,
    log: bool,
    pos: list[float] | None,
    labels: list[str],
) -> None:
    if band is not None:
        ax.axhspan(band[1], band[2], color="tab:orange", alpha=0.2, label="baseline noise")
        ax.axhline(band[0], color="tab:orange", lw=1)
    if log:
        ax.set_xscale("log")
    if pos is not None:
        ax.set_xticks(pos)
        ax.set_xticklabels(labels, rotation=30 if len(labels) > 5 else 0)
        ax.minorticks_off()
    ax.set_xlabel(rel.factor)
    ax.set_ylabel(metric)
    ax.set_title(f"{rel.factor}: {rel.verdict} (n={rel.n})")
    if ax.get_legend_handles_labels()[0]:  # nothing labelled: no empty legend, no warning
        ax.legend(fontsize=7)


def curves_figure(ax: Any, curves: dict[str, list[dict[str, float]]]) -> None:
    colors = {"best": "tab:green", "median": "tab:blue", "worst": "tab:red"}
    for name, rows in curves.items():
        ep = [r["epoch"] for r in rows]
        c = colors.get(name.split()[0])
        ax.plot(ep, [r["train_loss"] for r in rows], color=c, ls="--", label=f"{name} train")
        ax.plot(ep, [r["val_loss"] for r in rows], color=c, label=f"{name} val")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(fontsize=7)


def heatmap_figure(ax: Any, inter: Interaction, metric: str) -> None:
    m = np.array(inter.means, dtype=float)
    im = ax.imshow(m, cmap="viridis", aspect="auto")
    ax.set_yticks(range(len(inter.a_levels)))
    ax.set_yticklabels(inter.a_levels)
    ax.set_xticks(range(len(inter.b_levels)))
    ax.set_xticklabels(inter.b_levels, rotation=30)
    ax.set_ylabel(inter.a)
    ax.set_xlabel(inter.b)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if math.isfinite(m[i, j]):
                ax.text(
                    j,
                    i,
                    f"{m[i, j]:.3f}\nn={inter.counts[i][j]}",
                    ha="center",
                    va="center",
                    color="white",
                    fontsize=7,
                )
    ax.set_title(f"{metric}: {inter.a} × {inter.b}")
    ax.figure.colorbar(im, ax=ax)


def confusion_figure(ax: Any, classes: list[str], matrix: list[list[int]]) -> None:
    m = np.array(matrix, dtype=float)
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(len(classes)))
    ax.set_xticklabels(classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)))
    ax.set_yticklabels(classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = m.max() if m.size else 0
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(
                j,
                i,
                f"{int(m[i, j])}",
                ha="center",
                va="center",
                color="white" if m[i, j] > top / 2 else "black",
                fontsize=7,
            )
