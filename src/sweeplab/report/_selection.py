"""The study report's selection and noise sections: best trials, ties and confirmation.

A best trial is only worth naming when it is ahead beyond noise, so these
sections rank trials (and configurations repeated over seeds) with their
standard errors, say in words whether the best is tied with the rest, and show
how the re-trained candidates of ``confirm.json`` ranked.
"""

from __future__ import annotations

from collections.abc import Callable

from sweeplab.analysis import (
    Ranking,
    Score,
    StudyFrame,
    combined_se,
    paired_fold_ties,
    tied_with_best,
)
from sweeplab.report._document import Paragraph, Section, Table
from sweeplab.report._format import fmt_pm, fmt_score, fmt_value, plural
from sweeplab.spec import METRIC_NAMES
from sweeplab.store import Confirmation, TrialRecord

__all__ = ["best_section", "confirmation_section", "ranked_trials", "tie_sentence"]


def ranked_trials(records: list[TrialRecord], maximize: bool) -> list[TrialRecord]:
    """Complete trials with an objective, best first (ties by trial number)."""
    done = [r for r in records if r.state == "complete" and r.objective is not None]
    sign = -1.0 if maximize else 1.0
    return sorted(done, key=lambda r: (sign * float(r.objective or 0.0), r.number))


def _describe(score: Score, metric: str, label: str) -> str:
    basis = f", {score.basis}" if score.basis else ""
    if score.se is None:
        return f"{label}, {metric} {fmt_score(score.value)}, standard error unknown"
    return f"{label}, {metric} {fmt_score(score.value)} ± {fmt_score(score.se)}{basis}"


def _trials_label(score: Score) -> str:
    return ", ".join(f"#{n}" for n in score.trials)


def tie_sentence(
    ranking: Ranking,
    metric: str,
    *,
    noun: str = "trial",
    label: Callable[[Score], str] | None = None,
    advice: str = "",
) -> str:
    """Say in words whether the best of ``ranking`` is distinguishable from the rest, with numbers.

    ``label(score)`` names an entry (default ``#<trial>``); ``advice`` is added
    when the best is inside the noise.
    """
    name = label or (lambda s: f"#{s.trial}")
    tie = ranking.tie
    scores = ranking.scores
    if tie is None:
        return f"No {noun} completed, so there is no best {noun}."
    best = scores[tie.best]
    head = f"The best {noun} ({_describe(best, metric, name(best))})"
    if len(scores) == 1:
        return f"{head} is the only complete {noun}, so there is nothing to tell it apart from."
    z = f"{tie.z:g}"
    unknown = (
        f" {plural(len(tie.unknown), noun)} could not be compared: a standard error is missing."
        if tie.unknown
        else ""
    )
    if tie.inside_noise:
        others = len(tie.tied) - 1
        if tie.tied == tuple(range(len(tie.tied))):
            who = f"the next {noun}" if others == 1 else f"the next {others} {noun}s"
        else:
            shown = ", ".join(name(scores[i]) for i in tie.tied[1:9])
            more = ", ..." if others > 8 else ""
            who = f"{plural(others, f'other {noun}')} ({shown}{more})"
        verb = "it lies" if others == 1 else "they lie"
        text = (
            f"{head} is not distinguishable from {who}: {verb} within {z} combined standard "
            f"errors (the widest gap is {fmt_score(tie.widest_gap)})."
        )
        if tie.apart:
            text += (
                f" The other {plural(len(tie.apart), noun)} are further behind."
                if len(tie.apart) > 1
                else f" The other {noun} is further behind."
            )
        return text + unknown + (f" {advice}" if advice else "")
    if tie.apart:
        runner = scores[tie.apart[0]]
        gap = abs(best.value - runner.value)
        both = combined_se(best.se, runner.se) or 0.0
        scope = "every other " + noun if not tie.unknown else plural(len(tie.apart), noun)
        units = f"{gap / both:.1f} combined standard errors" if both > 0 else "with SE 0"
        return (
            f"{head} is ahead of {scope} by more than {z} combined standard errors: the "
            f"closest, {name(runner)} ({fmt_pm(runner.value, runner.se)}), is "
            f"{fmt_score(gap)} behind, {units}." + unknown
        )
    why = (
        "a loss has no binomial standard error; data.cv or data.split_repeats give a fold spread"
        if metric.endswith("_loss")
        else "the scores carry no standard error"
    )
    return (
        f"The standard error of {metric} is unknown here ({why}), so this report cannot say "
        f"whether the best {noun} ({name(best)}, {metric} {fmt_score(best.value)}) is ahead of the "
        "others beyond noise."
    )


def _advice(confirmation: Confirmation | None) -> str:
    if confirmation is not None:
        return (
            f"The confirmation below re-trained the top candidates: prefer its winner "
            f"(#{confirmation.winner})."
        )
    return (
        "Prefer the confirmed winner (search.confirm_top) or more data (data.cv, a larger "
        "validation split)."
    )


def best_section(
    sf: StudyFrame,
    ranked: list[TrialRecord],
    ranking: Ranking,
    configs: Ranking,
    confirmation: Confirmation | None,
    top: int = 5,
) -> Section:
    """The best trials with their SEs and ties, and seed-averaged configurations if repeated."""
    sec = Section("Best trials")
    if not ranked:
        return sec.add(Paragraph("No trial completed, so there is no best trial."))
    sec.add(
        Paragraph(
            f"Ranked by {sf.metric} (validation, the search objective). Test metrics are for "
            "reporting; they played no part in the ranking. ± SE is the standard error of the "
            "validation score: the spread over folds with cross-validation, else for "
            "accuracy-like metrics the binomial SE sqrt(p̃(1−p̃)/n) of the n validation samples "
            "(p̃ = (x+2)/(n+4), so a perfect score still has an SE). 'tied' marks trials within "
            "1.96 combined standard errors of the best (unpaired test, conservative)."
        )
    )
    sec.add(Paragraph(tie_sentence(ranking, sf.metric, advice=_advice(confirmation))))
    paired = paired_fold_ties(ranked, metric=sf.metric, maximize=sf.maximize)
    if paired:
        still = [f"#{p.trial}" for p in paired if p.tied]
        sec.add(
            Paragraph(
                f"Paired on the folds (every trial saw the same folds; corrected resampled t "
                f"on the fold-wise differences): the best is separated from "
                f"{sum(not p.tied for p in paired)} of the other {len(paired)} trials at 5%"
                + (f"; still tied: {', '.join(still[:10])}{', ...' if len(still) > 10 else ''}."
                   if still else ".")
            )
        )  # fmt: skip
    tie = ranking.tie
    shown = max(top, min(len(tie.tied) if tie else 0, 10))
    params = list(sf.factors) or ["lr", "units", "batch_size", "epochs"]
    header = ("trial", sf.metric, "± SE", "vs best", *(f"test {m}" for m in METRIC_NAMES), *params)
    se_of = {s.trial: s.se for s in ranking.scores}
    rows = []
    for r in ranked[:shown]:
        rows.append(
            (
                str(r.number),
                fmt_value(r.objective),
                fmt_value(se_of.get(r.number)),
                ranking.status(r.number),
                *(fmt_value((r.test or {}).get(m)) for m in METRIC_NAMES),
                *(fmt_value(r.params.get(p), ".3g") for p in params),
            )
        )
    sec.add(Table(header, tuple(rows)))
    if any(len(s.trials) > 1 for s in configs.scores):
        sec.add(
            Paragraph(
                "Configurations run with several seeds (study.repeats), as the mean over their "
                "seeds. The SE adds the seeds' spread (sd/√k) and the trials' own SE, which "
                "averaging seeds on one validation split does not shrink."
            )
        )
        if len(configs.scores) > 1:
            sec.add(
                Paragraph(
                    tie_sentence(
                        configs,
                        sf.metric,
                        noun="configuration",
                        label=lambda s: (
                            f"trial{'s' if len(s.trials) > 1 else ''} {_trials_label(s)}"
                        ),
                    )
                )
            )
        first = {r.number: r for r in ranked}
        crows = []
        for i, s in enumerate(configs.scores[: max(top, 10)]):
            rec = first[s.trial]
            crows.append(
                (
                    _trials_label(s),
                    fmt_score(s.value),
                    fmt_score(s.se),
                    str(len(s.trials)),
                    configs.tie.status(i) if configs.tie else "",
                    *(fmt_value(rec.params.get(p), ".3g") for p in params),
                )
            )
        sec.add(
            Table(
                ("trials", f"{sf.metric} (mean)", "± SE", "seeds", "vs best", *params),
                tuple(crows),
            )
        )
    return sec


def confirmation_section(conf: Confirmation) -> Section:
    """The confirmation of the top candidates (``confirm.json``): both rankings and the winner."""
    sec = Section("Confirmation")
    folds = f" × {conf.folds_per_repeat} folds" if conf.folds_per_repeat else ""
    win = conf.candidate(conf.winner)
    text = (
        f"After the search, its {plural(len(conf.candidates), 'best candidate')} were "
        f"re-trained on fresh seeds and splits ({conf.repeats} repeats{folds}) and ranked again "
        f"on {conf.objective} ({conf.direction}). The confirmed winner is trial #{conf.winner} "
        f"({fmt_pm(win.confirm_value, win.confirm_se)}; in the search "
        f"{fmt_pm(win.search_value, win.search_se)}, rank {win.search_rank})."
    )
    if conf.changed:
        text += (
            f" The search's best was trial #{conf.search_best}, so confirmation changed the winner."
        )
    else:
        text += " It was also the search's best, so the winner did not change."
    sec.add(Paragraph(text))
    cands = sorted(conf.candidates, key=lambda c: (c.confirm_rank, c.trial))
    maximize = conf.direction == "maximize"
    tie = tied_with_best(
        [c.confirm_value for c in cands], [c.confirm_se for c in cands], maximize=maximize
    )
    confirmed = Ranking(
        tuple(
            Score((c.trial,), c.confirm_value, c.confirm_se, f"{len(c.confirm_values)} runs")
            if c.confirm_values
            else Score((c.trial,), c.confirm_value, c.confirm_se, "")
            for c in cands
        ),
        tie,
    )
    sec.add(Paragraph(tie_sentence(confirmed, conf.objective, noun="candidate")))
    rows = []
    for i, c in enumerate(cands):
        rows.append(
            (
                str(c.trial),
                fmt_pm(c.search_value, c.search_se),
                str(c.search_rank),
                fmt_pm(c.confirm_value, c.confirm_se),
                str(c.confirm_rank),
                ", ".join(fmt_score(v) for v in c.confirm_values) or "-",
                "winner"
                if c.trial == conf.winner
                else tie.status(i).replace("best", "best confirmed"),
            )
        )
    return sec.add(
        Table(
            (
                "trial",
                f"search {conf.objective} ± SE",
                "search rank",
                f"confirmed {conf.objective} ± SE",
                "confirmed rank",
                "confirmation runs",
                "vs winner",
            ),
            tuple(rows),
        )
    )
