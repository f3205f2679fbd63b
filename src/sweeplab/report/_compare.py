"""``sweeplab compare``: one study file under several strategies and seeds, and its report."""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sweeplab.analysis import (
    CompareResult,
    RunResult,
    min_repeats,
    pairwise_tests,
    repeats_needed,
    run_result,
    summarize,
)
from sweeplab.report._document import Document, Figure, Paragraph, Section, Table, render
from sweeplab.report._figures import new_figure, save
from sweeplab.report._format import fmt_value

__all__ = ["write_compare_report"]

_log = logging.getLogger(__name__)


def _band(traces: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = max(len(t) for t in traces)
    m = np.full((len(traces), n), np.nan)
    for i, t in enumerate(traces):
        m[i, : len(t)] = t
        if len(t):
            m[i, len(t) :] = t[-1]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return tuple(np.nanquantile(m, q, axis=0) for q in (0.5, 0.25, 0.75))


def _pm(v: tuple[float, float]) -> str:
    return "-" if not math.isfinite(v[0]) else f"{v[0]:.4f} ± {v[1]:.4f}"


def write_compare_report(result: CompareResult, out_dir: Path | None = None) -> Path:
    """Write ``report/report.md`` and ``report/report.html`` of a comparison; returns the html."""
    out = out_dir or result.root / "report"
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    maximize = result.base.direction == "maximize"
    metric = result.base.study.objective
    results: list[RunResult] = []
    for s in result.strategies:
        for k, study in enumerate(result.studies[s]):
            results.append(run_result(s, k, study.records(), maximize))
    summary = summarize(results, list(result.strategies))
    tests = pairwise_tests(results, list(result.strategies), maximize)
    reps = max((len(v) for v in result.studies.values()), default=0)
    doc = Document(f"sweeplab compare: {result.base.study.name}")
    head = Section("Setup")
    head.add(
        Paragraph(
            f"Study file {result.base.study.name}: the same data, parameters, space and budget "
            f"({result.base.search.trials or 30} trials) under each strategy, {reps} seeds each "
            f"(repeat k uses seed {result.base.study.seed}+k for every strategy). The best trial "
            f"of each study is chosen on {metric} (validation); its test scores are reported. "
            "grid runs only lists of values and stepped ranges, as in sweeplab run; hyperband and "
            "bohb prune, so "
            "they spend fewer epochs for the same number of trials (column epochs)."
        )
    )
    doc.sections.append(head)
    table = Section("Strategies")
    table.add(
        Table(
            (
                "strategy",
                f"best {metric}",
                "its test accuracy",
                "its test F1 macro",
                "epochs",
                "repeats",
            ),
            tuple(
                (
                    s.strategy,
                    _pm(s.val),
                    _pm(s.test_accuracy),
                    _pm(s.test_f1),
                    f"{s.epochs:.0f}",
                    str(s.repeats),
                )
                for s in summary
            ),
        )
    )
    table.add(Paragraph("mean ± standard deviation over repeats."))
    doc.sections.append(table)
    fig, axes = new_figure(2, 1, width=5.5, height=3.8)
    for s in result.strategies:
        rs = [r for r in results if r.strategy == s and r.trace]
        if not rs:
            continue
        med, lo, hi = _band([r.trace for r in rs])
        x = np.arange(1, len(med) + 1)
        (line,) = axes[0, 0].plot(x, med, label=s)
        axes[0, 0].fill_between(x, lo, hi, color=line.get_color(), alpha=0.15)
        grid_t = np.linspace(0, max(max(r.times) for r in rs), 60)
        on_t = [
            [
                (
                    r.trace[j]
                    if (j := int(np.searchsorted(r.times, t, side="right")) - 1) >= 0
                    else math.nan
                )
                for t in grid_t
            ]
            for r in rs
        ]
        med_t, lo_t, hi_t = _band(on_t)
        axes[0, 1].plot(grid_t, med_t, color=line.get_color(), label=s)
        axes[0, 1].fill_between(grid_t, lo_t, hi_t, color=line.get_color(), alpha=0.15)
    axes[0, 0].set_xlabel("trials finished")
    axes[0, 1].set_xlabel("wall seconds")
    for ax in axes.flat:
        ax.set_ylabel(f"best {metric} so far")
        ax.legend(fontsize=7)
    save(fig, fig_dir / "best_so_far.png")
    curves = Section("Best so far")
    curves.add(
        Figure(
            "best_so_far.png",
            "Best validation so far: median (line) and IQR (band) over "
            "repeats, against trials and against wall time",
        )
    )
    doc.sections.append(curves)
    pw = Section("Pairwise tests")
    m = len(tests)
    need = min_repeats(m) if m else 0
    text = (
        f"Repeat k of every strategy shares its seed and split, so each pair is compared on "
        f"its paired differences (a − b, final best {metric}): the mean difference with a 95% "
        "paired-t interval, and the exact two-sided sign-flip permutation p of that mean, "
        f"Holm-adjusted over {m} pairs; a verdict names a winner only when the adjusted "
        "p ≤ 0.05. 'no difference detected' is not evidence of equality."
    )
    if m and any(not t.reachable for t in tests):
        text += (
            f" With {reps} repeats the smallest attainable p is {tests[0].min_p:.3g}, and "
            f"Holm over {m} pairs needs ≤ {0.05 / m:.3g}: no difference could have been "
            f"declared, whatever the data. At least {need} repeats are needed "
            f"(--repeats {need}); a difference of 1 SD of the per-repeat differences needs "
            f"{repeats_needed(1.0, m)} for 80% power, 0.5 SD needs {repeats_needed(0.5, m)}."
        )
    pw.add(Paragraph(text))
    pw.add(
        Table(
            (
                "pair",
                "paired repeats",
                "mean difference a − b [95% CI]",
                "p",
                "p (Holm)",
                "verdict",
            ),
            tuple(
                (
                    f"{t.a} vs {t.b}",
                    str(t.n),
                    "-"
                    if not math.isfinite(t.diff)
                    else f"{t.diff:+.4f} [{fmt_value(t.low, '+.4f')}, {fmt_value(t.high, '+.4f')}]",
                    f"{t.p:.3g}",
                    f"{t.p_holm:.3g}",
                    t.verdict,
                )
                for t in tests
            ),
        )
    )
    doc.sections.append(pw)
    _, html = render(doc, out)
    return html
