"""Choosing the winner with its noise: standard errors, the trials tied with the best, confirmation.

A validation score is an estimate: on 15 Iris validation samples one more
correct prediction moves accuracy by 0.067. These functions give each trial's
score its standard error (SE) and name the trials that cannot be told apart
from the best, so a report can say when the winner is inside the noise.

The SE of one trial (:func:`trial_se`):

- with folds (``data.cv`` / ``data.split_repeats``) the record's
  ``objective_se``, Nadeau and Bengio's corrected SE of the mean over folds
  (``study.merge_folds``). For proportion metrics it is floored by the
  binomial SE of the distinct validation samples (each counted once, also
  under repeated k-fold), since five folds that all score 1.0 have a spread
  of 0 but are not certain;
- with one split and a proportion metric, the binomial SE
  ``sqrt(p̃(1 − p̃) / n)`` with Agresti–Coull's adjusted proportion
  ``p̃ = (x + 2) / (n + 4)``, ``x = p·n`` correct of ``n = n_val``. At p = 1
  the plain ``sqrt(p(1 − p)/n)`` is 0; ``p̃`` keeps it positive (15/15 gives
  0.079). Using ``n`` rather than Agresti–Coull's ``n + 4`` in the
  denominator makes it slightly wider, which errs towards "tied".
  ``val_accuracy`` and ``val_recall_weighted`` (which equals accuracy) are
  proportions of ``n`` samples, so this is the textbook SE; for
  ``val_precision_*``, ``val_recall_macro`` and ``val_f1_*`` it is an
  approximation (they are averages of per-class ratios, not one proportion);
- for ``val_loss`` without folds: unknown (``None``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sweeplab.store import TrialRecord

__all__ = [
    "APPROX_BINOMIAL",
    "EXACT_BINOMIAL",
    "Z_TIE",
    "Ranking",
    "Score",
    "TieSet",
    "binomial_se",
    "combined_se",
    "config_key",
    "config_scores",
    "rank_with_noise",
    "tied_with_best",
    "trial_scores",
    "trial_se",
]

Z_TIE = 1.96
EXACT_BINOMIAL = frozenset({"val_accuracy", "val_recall_weighted"})
APPROX_BINOMIAL = frozenset(
    {
        "val_precision_macro",
        "val_precision_weighted",
        "val_recall_macro",
        "val_f1_macro",
        "val_f1_weighted",
    }
)
_PROPORTIONS = EXACT_BINOMIAL | APPROX_BINOMIAL
_EPS = 1e-12


def binomial_se(p: float, n: int) -> float:
    """SE of a proportion ``p`` of ``n`` samples: ``sqrt(p̃(1 − p̃)/n)``, ``p̃ = (pn + 2)/(n + 4)``.

    Never 0, also at ``p`` = 0 or 1. ``p`` is clipped to [0, 1].
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, but got {n}")
    if not math.isfinite(p):
        raise ValueError(f"p must be a finite proportion, but got {p}")
    p = min(max(p, 0.0), 1.0)
    adjusted = (p * n + 2.0) / (n + 4.0)
    return math.sqrt(adjusted * (1.0 - adjusted) / n)


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def trial_se(record: TrialRecord, n_val: int | None, *, metric: str) -> float | None:
    """The standard error of ``record.objective``, or ``None`` when it cannot be known.

    ``metric`` is the study's objective (``val_accuracy``, ``val_loss``, ...);
    ``n_val`` the validation samples one score is computed on, used when the
    record has no ``n_val`` of its own (provenance's ``data.n_val``). See the
    module docstring for the rules.
    """
    if not _finite(record.objective):
        return None
    value = float(record.objective)  # type: ignore[arg-type]
    n = record.n_val or n_val
    proportion = metric in _PROPORTIONS and n is not None and n > 0
    if _finite(record.objective_se):
        fold_se = float(record.objective_se)  # type: ignore[arg-type]
        if proportion and record.folds:
            return max(fold_se, binomial_se(value, _distinct_val(record.folds, int(n))))  # type: ignore[arg-type]
        return fold_se
    if proportion:
        return binomial_se(value, int(n))  # type: ignore[arg-type]
    return None


def _distinct_val(folds: list[dict[str, Any]], n: int) -> int:
    """Validation samples behind the folds, each counted once.

    The folds' validation sets together hold ``sum n_val``; every fold comes
    from one pool of ``n_train + n_val`` samples, so repeated k-fold or
    repeated splits never see more distinct samples than the pool. Records
    without fold sizes count ``n`` per fold (as before).
    """
    total = sum(int(f.get("n_val") or n) for f in folds)
    pools = [
        int(f["n_train"]) + int(f["n_val"]) for f in folds if f.get("n_train") and f.get("n_val")
    ]
    return min(total, max(pools)) if pools else total


def _basis(record: TrialRecord, n_val: int | None, metric: str) -> str:
    """How :func:`trial_se` got its number, for a reader: ``5 folds``, ``n=15`` or ``""``."""
    n = record.n_val or n_val
    if _finite(record.objective_se):
        folds = len(record.folds or [])
        return f"{folds} folds" if folds else "fold spread"
    if metric in _PROPORTIONS and n:
        return f"n={n}"
    return ""


@dataclass(frozen=True)
class Score:
    """The objective of one trial, or of one configuration's seeds, with its SE.

    ``trials`` are the trial numbers behind it (one, or one per seed);
    ``se`` is ``None`` when unknown; ``basis`` says where the SE came from
    (``n=15``, ``5 folds``, ``3 seeds``; empty when unknown).
    """

    trials: tuple[int, ...]
    value: float
    se: float | None
    basis: str

    @property
    def trial(self) -> int:
        return self.trials[0]


def _complete(records: Sequence[TrialRecord]) -> list[TrialRecord]:
    done = [r for r in records if r.state == "complete" and _finite(r.objective)]
    return sorted(done, key=lambda r: r.number)


def trial_scores(records: Sequence[TrialRecord], *, metric: str, n_val: int | None) -> list[Score]:
    """One :class:`Score` per complete trial, by trial number."""
    return [
        Score(
            (r.number,),
            float(r.objective),  # type: ignore[arg-type]
            trial_se(r, n_val, metric=metric),
            _basis(r, n_val, metric),
        )
        for r in _complete(records)
    ]


def config_key(record: TrialRecord) -> str:
    """The configuration a trial ran: its point key without the ``#repeat``.

    Sampled trials have no point key, so each is its own configuration.
    """
    return record.config_key


def config_scores(records: Sequence[TrialRecord], *, metric: str, n_val: int | None) -> list[Score]:
    """One :class:`Score` per configuration (``study.repeats`` seeds share one), by first trial.

    The value is the mean over the seeds. Its SE adds two sources:
    ``sqrt(sd² / k + within²)``, ``sd`` the spread of the ``k`` seeds
    (ddof 1) and ``within`` the root mean square of the seeds' own SEs
    (:func:`trial_se`). Seeds scored on the same validation split share that
    split's sampling noise, and averaging seeds does not shrink it, so it is
    added in full rather than divided by ``k``: conservative when the seeds saw
    different folds. Without a per-trial SE (a loss on one split) only the seed
    spread is left (``basis`` then says ``seeds only``). A configuration with
    one trial keeps that trial's SE.
    """
    groups: dict[str, list[TrialRecord]] = {}
    for r in _complete(records):
        groups.setdefault(config_key(r), []).append(r)
    out: list[Score] = []
    for members in groups.values():
        if len(members) == 1:
            r = members[0]
            out.append(
                Score(
                    (r.number,),
                    float(r.objective),  # type: ignore[arg-type]
                    trial_se(r, n_val, metric=metric),
                    _basis(r, n_val, metric),
                )
            )
            continue
        # Plain floats, not numpy: ``sweeplab status`` ranks without importing numpy.
        vals = [float(r.objective) for r in members]  # type: ignore[arg-type]
        k = len(vals)
        mean = math.fsum(vals) / k
        between = math.sqrt(math.fsum((v - mean) ** 2 for v in vals) / (k - 1)) / math.sqrt(k)
        own = [trial_se(r, n_val, metric=metric) for r in members]
        if all(s is not None for s in own):
            within = math.sqrt(math.fsum(float(s) ** 2 for s in own) / k)  # type: ignore[arg-type]
            se, basis = math.sqrt(between**2 + within**2), f"{k} seeds"
        else:
            se, basis = between, f"{k} seeds only"
        out.append(Score(tuple(r.number for r in members), mean, se, basis))
    return sorted(out, key=lambda s: s.trial)


def combined_se(a: float | None, b: float | None) -> float | None:
    """``sqrt(a² + b²)``, the SE of a difference of independent estimates; ``None`` if either is."""
    if not (_finite(a) and _finite(b)):
        return None
    return math.hypot(float(a), float(b))  # type: ignore[arg-type]


@dataclass(frozen=True)
class TieSet:
    """Which entries are statistically tied with the best (indices into the inputs).

    ``tied`` holds the best first, then the tied others in rank order;
    ``apart`` the entries worse by more than ``z`` combined SE; ``unknown``
    those that could not be compared because an SE is missing. Non-finite
    values are in none of them. ``widest_gap`` is the largest
    ``|best − v|`` among the tied others (0 when there are none).
    """

    best: int
    tied: tuple[int, ...]
    apart: tuple[int, ...]
    unknown: tuple[int, ...]
    z: float
    widest_gap: float

    @property
    def inside_noise(self) -> bool:
        """Whether at least one other entry cannot be told apart from the best."""
        return len(self.tied) > 1

    def status(self, index: int) -> str:
        """``best``, ``tied``, ``worse``, ``?`` (not comparable) or ``""`` (not ranked)."""
        if index == self.best:
            return "best"
        return self._labels.get(index, "")

    @functools.cached_property
    def _labels(self) -> dict[int, str]:
        """Index -> label, built once (a table of 10,000 trials asks 10,000 times)."""
        labels = dict.fromkeys(self.unknown, "?")
        labels.update(dict.fromkeys(self.apart, "worse"))
        labels.update(dict.fromkeys(self.tied, "tied"))
        return labels


def tied_with_best(
    values: Sequence[float],
    ses: Sequence[float | None],
    *,
    maximize: bool = True,
    z: float = Z_TIE,
) -> TieSet:
    """The entries not distinguishable from the best: ``|best − v| ≤ z·sqrt(se_best² + se_v²)``.

    An unpaired two-sided test at ``z`` (1.96: 95%) on each best-vs-other
    difference, one at a time and without a multiplicity correction. Trials
    scored on the same validation split are positively correlated, so the
    unpaired SE of their difference is too large: the test is conservative and
    calls more trials tied than a paired test would, which is the safe side
    for "the winner is clear".

    The best is the first of the highest (``maximize``) or lowest values.
    A missing SE (``None`` or not finite) makes the comparison undecidable
    unless the known SE already settles it: an equal value is always tied,
    and ``|best − v| ≤ z·se_known`` is tied since the combined SE is at least
    ``se_known``. Raises ``ValueError`` when no value is finite or an SE is
    negative.
    """
    if len(values) != len(ses):
        raise ValueError(f"values and ses must have the same length, got {len(values)}, {len(ses)}")
    if z <= 0:
        raise ValueError(f"z must be > 0, but got {z}")
    for s in ses:
        if s is not None and s < 0:
            raise ValueError(f"a standard error must be >= 0, but got {s}")
    sign = -1.0 if maximize else 1.0
    order = sorted(
        (i for i, v in enumerate(values) if math.isfinite(v)),
        key=lambda i: (sign * values[i], i),
    )
    if not order:
        raise ValueError("at least one value must be finite")
    best = order[0]
    tied, apart, unknown = [best], [], []
    widest = 0.0
    se_best = ses[best] if _finite(ses[best]) else None
    for i in order[1:]:
        gap = abs(values[best] - values[i])
        se_i = ses[i] if _finite(ses[i]) else None
        both = combined_se(se_best, se_i)
        if gap <= _EPS:
            verdict = "tied"
        elif both is not None:
            verdict = "tied" if gap <= z * both + _EPS else "apart"
        else:
            known = se_best if se_best is not None else se_i
            verdict = "tied" if known is not None and gap <= z * known + _EPS else "unknown"
        if verdict == "tied":
            tied.append(i)
            widest = max(widest, gap)
        elif verdict == "apart":
            apart.append(i)
        else:
            unknown.append(i)
    return TieSet(best, tuple(tied), tuple(apart), tuple(unknown), z, widest)


@dataclass(frozen=True)
class Ranking:
    """Scores best first and their :class:`TieSet` (whose indices point into ``scores``)."""

    scores: tuple[Score, ...]
    tie: TieSet | None

    def status(self, trial: int) -> str:
        """The tie status of the score holding ``trial`` (see :meth:`TieSet.status`)."""
        if self.tie is None:
            return ""
        i = self._positions.get(trial)
        return "" if i is None else self.tie.status(i)

    @functools.cached_property
    def _positions(self) -> dict[int, int]:
        """Trial number -> index of its score (one pass, not one per lookup)."""
        return {t: i for i, s in reversed(list(enumerate(self.scores))) for t in s.trials}


def rank_with_noise(scores: Sequence[Score], *, maximize: bool, z: float = Z_TIE) -> Ranking:
    """Order ``scores`` best first (ties by first trial number) and find the tied set."""
    sign = -1.0 if maximize else 1.0
    ranked = tuple(sorted(scores, key=lambda s: (sign * s.value, s.trial)))
    if not ranked:
        return Ranking((), None)
    tie = tied_with_best([s.value for s in ranked], [s.se for s in ranked], maximize=maximize, z=z)
    return Ranking(ranked, tie)
