"""``sweeplab compare``: one study file under several strategies and seeds, and its report."""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sweeplab.analysis import RunResult, pairwise_tests, run_result, summarize
from sweeplab.errors import SpecError
from sweeplab.report._document import Document, Figure, Paragraph, Section, Table, render
from sweeplab.report._figures import new_figure, save
from sweeplab.spec import STRATEGIES, StudySpec, load_spec, spec_from_dict
from sweeplab.store import Study, load_study

__all__ = [
    "DEFAULT_STRATEGIES",
    "CompareResult",
    "compare_specs",
    "load_compare",
    "run_compare",
    "write_compare_report",
]

_log = logging.getLogger(__name__)
DEFAULT_STRATEGIES = ("grid", "random", "sobol", "tpe", "gp", "hyperband", "bohb")
GRID_LEVELS = 8


@dataclass(frozen=True)
class CompareResult:
    """The studies of a comparison, ``studies[strategy][repeat]``, and where they live."""

    root: Path
    base: StudySpec
    strategies: tuple[str, ...]
    studies: dict[str, list[Study]]


def _grid_space(space: dict[str, Any]) -> dict[str, Any]:
    """Continuous ranges as 8 values (log-spaced when ``log``), so ``grid`` can run them."""
    out: dict[str, Any] = {}
    for key, dim in space.items():
        if isinstance(dim, dict) and dim.get("step") is None:
            lo, hi = float(dim["low"]), float(dim["high"])
            if dim.get("log"):
                vals = np.geomspace(lo, hi, GRID_LEVELS)
            else:
                vals = np.linspace(lo, hi, GRID_LEVELS)
            is_int = key in {"depth", "batch_size", "epochs"} or key.startswith("units")
            if is_int:
                out[key] = sorted({round(float(v)) for v in vals})
            else:
                out[key] = [float(f"{v:.3g}") for v in vals]
        else:
            out[key] = dim
    return out


def compare_specs(
    base: StudySpec, strategies: Sequence[str], repeats: int
) -> list[tuple[str, int, StudySpec]]:
    """The study of each strategy and repeat: same space, data, params and trial budget.

    Repeat ``k`` uses seed ``study.seed + k`` for every strategy (paired seeds).
    For ``grid`` a continuous range becomes 8 values spanning it.
    """
    unknown = [s for s in strategies if s not in STRATEGIES or s == "ofat"]
    if unknown:
        raise SpecError(
            f"--strategies must be names from {', '.join(s for s in STRATEGIES if s != 'ofat')}, "
            f"but got {', '.join(unknown)}"
        )
    if repeats < 1:
        raise SpecError(f"--repeats must be >= 1, but got {repeats}")
    if not base.search.space:
        raise SpecError("search.space must name at least one parameter to compare strategies")
    trials = base.search.trials or 30
    out = []
    for s in strategies:
        for k in range(repeats):
            raw = base.model_dump(mode="json", exclude_none=True)
            raw["study"]["name"] = f"{s}-r{k}"
            raw["study"]["seed"] = base.study.seed + k
            raw["search"]["strategy"] = s
            raw["search"]["trials"] = trials
            raw["search"]["configs"] = []
            if s == "grid":
                raw["search"]["space"] = _grid_space(raw["search"]["space"])
            out.append((s, k, spec_from_dict(raw)))
    return out


def run_compare(
    study_file: str | Path,
    strategies: Sequence[str] = DEFAULT_STRATEGIES,
    repeats: int = 5,
    overrides: Sequence[str] = (),
    runs_dir: str | Path = "runs",
    on_study: Callable[[str, int, int, int], None] | None = None,
) -> CompareResult:
    """Run (or resume) every strategy × repeat under ``runs_dir/<name>-compare/``.

    ``on_study(strategy, repeat, done, total)`` is called after each study.
    """
    from sweeplab.runner import run

    base = load_spec(study_file, overrides)
    root = Path(runs_dir) / f"{base.study.name}-compare"
    plan = compare_specs(base, strategies, repeats)
    studies: dict[str, list[Study]] = {s: [] for s in strategies}
    for i, (s, k, spec) in enumerate(plan):
        _log.info("compare: %s repeat %d", s, k)
        studies[s].append(run(spec, runs_dir=root))
        if on_study is not None:
            on_study(s, k, i + 1, len(plan))
    return CompareResult(root, base, tuple(strategies), studies)


def load_compare(root: Path, base: StudySpec, strategies: Sequence[str]) -> CompareResult:
    """Open the studies of an earlier comparison (every ``<strategy>-r<k>`` directory)."""
    studies: dict[str, list[Study]] = {}
    for s in strategies:
        dirs = sorted(root.glob(f"{s}-r*"), key=lambda p: int(p.name.rsplit("-r", 1)[1]))
        studies[s] = [load_study(d) for d in dirs]
    return CompareResult(root, base, tuple(strategies), studies)


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
            "grid runs a continuous range as 8 values spanning it; hyperband and bohb prune, so "
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
    pw.add(
        Paragraph(
            f"Two-sided Mann–Whitney U on the final best {metric} of each repeat, Holm-adjusted "
            f"over {len(tests)} pairs; a verdict names a winner only when the adjusted p < 0.05. "
            f"With {reps} repeats per strategy the smallest attainable p is limited, so "
            "'no difference detected' is not evidence of equality."
        )
    )
    pw.add(
        Table(
            ("pair", "p", "p (Holm)", "verdict"),
            tuple((f"{t.a} vs {t.b}", f"{t.p:.3g}", f"{t.p_holm:.3g}", t.verdict) for t in tests),
        )
    )
    doc.sections.append(pw)
    _, html = render(doc, out)
    return html
