"""``sweeplab compare``: run every strategy × repeat of one study as separate studies."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sweeplab.errors import SpecError
from sweeplab.spec import INT_PARAMS, STRATEGIES, Range, StudySpec, load_spec, spec_from_dict
from sweeplab.store import Study, load_study
from sweeplab.study._run import run

if TYPE_CHECKING:
    from sweeplab.analysis import CompareResult

__all__ = [
    "DEFAULT_STRATEGIES",
    "compare_plan",
    "compare_specs",
    "continuous_keys",
    "default_strategies",
    "load_compare",
    "run_compare",
]

_log = logging.getLogger(__name__)
DEFAULT_STRATEGIES = ("grid", "random", "sobol", "tpe", "gp", "hyperband", "bohb")


def continuous_keys(base: StudySpec) -> list[str]:
    """The space's continuous ranges: what ``grid`` refuses, in ``run`` and ``compare`` alike."""
    return [
        k
        for k, d in base.search.space.items()
        if isinstance(d, Range)
        and d.step is None
        and not (k in INT_PARAMS and float(d.low).is_integer() and float(d.high).is_integer())
    ]


def default_strategies(base: StudySpec) -> tuple[str, ...]:
    """Every strategy that can run this space: ``grid`` only when no range is continuous."""
    if continuous_keys(base):
        return tuple(s for s in DEFAULT_STRATEGIES if s != "grid")
    return DEFAULT_STRATEGIES


def compare_specs(
    base: StudySpec, strategies: Sequence[str], repeats: int
) -> list[tuple[str, int, StudySpec]]:
    """The study of each strategy and repeat: same space, data, params and trial budget.

    Repeat ``k`` uses seed ``study.seed + k`` for every strategy (paired seeds).
    ``grid`` refuses a continuous range here as in ``run`` (one line naming the
    range): a grid of levels nobody chose would answer a different question.
    """
    unknown = [s for s in strategies if s not in STRATEGIES or s == "ofat"]  # ofat: no budget
    if unknown:
        raise SpecError(
            f"--strategies must be names from {', '.join(s for s in STRATEGIES if s != 'ofat')}, "
            f"but got {', '.join(unknown)}"
        )
    if repeats < 1:
        raise SpecError(f"--repeats must be >= 1, but got {repeats}")
    if not base.search.space:
        raise SpecError("search.space must name at least one parameter to compare strategies")
    cont = continuous_keys(base)
    if "grid" in strategies and cont:
        raise SpecError(
            f"search.space.{cont[0]} must be a list of values or a range with a step "
            "for strategy 'grid', but got a continuous range (leave grid out of --strategies)"
        )
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
            out.append((s, k, spec_from_dict(raw)))
    return out


def compare_plan(
    base: StudySpec, strategies: Sequence[str], repeats: int, defaulted: bool = False
) -> str:
    """What a comparison can show before it runs: pairs, the repeats a verdict needs.

    The paired sign-flip test's smallest p is 2 / 2^repeats; Holm over the
    pairs needs 0.05 / pairs, so below :func:`analysis.min_repeats` no
    difference can be declared whatever the data.
    """
    pairs = len(strategies) * (len(strategies) - 1) // 2
    text = f"{len(strategies)} strategies x {repeats} repeats: {', '.join(strategies)}"
    if defaulted and continuous_keys(base) and "grid" not in strategies:
        text += f" (grid left out: search.space.{continuous_keys(base)[0]} is a continuous range)"
    if pairs == 0:
        return text + "; one strategy, nothing to compare."
    from sweeplab.analysis import min_repeats, repeats_needed  # scipy: only compare loads it

    need = min_repeats(pairs)
    text += (
        f". {pairs} paired comparison{'s' if pairs != 1 else ''} "
        f"(Holm: p <= {0.05 / pairs:.3g}); "
        f"a difference of 1 SD of the per-repeat differences needs "
        f"{repeats_needed(1.0, pairs)} repeats for 80% power, 2 SD needs "
        f"{repeats_needed(2.0, pairs)}, and no difference can be declared below {need}."
    )
    if repeats < need:
        text += f" With --repeats {repeats} every verdict will be 'unreachable'."
    return text


def run_compare(
    study_file: str | Path,
    strategies: Sequence[str] | None = None,
    repeats: int = 5,
    overrides: Sequence[str] = (),
    runs_dir: str | Path = "runs",
    on_study: Callable[[str, int, int, int], None] | None = None,
    on_plan: Callable[[str], None] | None = None,
) -> CompareResult:
    """Run (or resume) every strategy × repeat under ``runs_dir/<name>-compare/``.

    ``strategies=None`` runs :func:`default_strategies`. ``on_plan(text)``
    gets :func:`compare_plan` before the first study; ``on_study(strategy,
    repeat, done, total)`` is called after each study.
    """
    base = load_spec(study_file, overrides)
    defaulted = strategies is None
    if strategies is None:
        strategies = default_strategies(base)
        if len(strategies) < len(DEFAULT_STRATEGIES):
            _log.info(
                "compare: grid left out, search.space.%s is a continuous range",
                continuous_keys(base)[0],
            )
    root = Path(runs_dir) / f"{base.study.name}-compare"
    plan = compare_specs(base, strategies, repeats)
    if on_plan is not None:
        on_plan(compare_plan(base, strategies, repeats, defaulted))
    studies: dict[str, list[Study]] = {s: [] for s in strategies}
    for i, (s, k, spec) in enumerate(plan):
        _log.info("compare: %s repeat %d", s, k)
        studies[s].append(run(spec, runs_dir=root))
        if on_study is not None:
            on_study(s, k, i + 1, len(plan))
    from sweeplab.analysis import CompareResult

    return CompareResult(root, base, tuple(strategies), studies)


def load_compare(root: Path, base: StudySpec, strategies: Sequence[str]) -> CompareResult:
    """Open the studies of an earlier comparison (every ``<strategy>-r<k>`` directory)."""
    studies: dict[str, list[Study]] = {}
    for s in strategies:
        dirs = sorted(root.glob(f"{s}-r*"), key=lambda p: int(p.name.rsplit("-r", 1)[1]))
        studies[s] = [load_study(d) for d in dirs]
    from sweeplab.analysis import CompareResult

    return CompareResult(root, base, tuple(strategies), studies)
