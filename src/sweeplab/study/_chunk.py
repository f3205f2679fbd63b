"""One group's trials while they train: the engine's callbacks, recorded by the runner."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sweeplab.engine import MemberResult
from sweeplab.study._bridge import fold_sizes, mean_row, merge_folds
from sweeplab.study._interrupt import check as check_interrupt
from sweeplab.study._loop import Runner, Running

if TYPE_CHECKING:
    from sweeplab.study._fused import FusedSource

__all__ = ["Chunk"]


class Chunk:
    """One group's trials while they train: pruning, trackers and records, per callback.

    ``on_epoch`` and ``on_end`` are the engine's callbacks; :meth:`interrupt`
    gives back the trials not ended (Ctrl-C), :meth:`fail` records them failed.
    """

    def __init__(
        self, source: FusedSource, runner: Runner, items: list[Running], group: str, lanes: int
    ) -> None:
        self.source, self.runner, self.items, self.group = source, runner, items, group
        self.extra = {"lanes": lanes} if lanes else {}
        self.per = max(1, source.n_folds)
        self.numbers = [item.trial.number for item in items]
        self.done: set[int] = set()
        self.ended: dict[int, dict[int, MemberResult]] = {i: {} for i in range(len(items))}
        for item in items:
            for tracker in runner.trackers:
                tracker.trial_started(item.trial.number, item.params, item.seed)

    def on_epoch(self, epoch: int, reports: dict[int, dict[str, float]]) -> Iterable[int]:
        check_interrupt()
        objective = self.source.spec.study.objective
        by_item: dict[int, list[int]] = {}
        for m in reports:
            by_item.setdefault(m // self.per, []).append(m)
        pruned: list[int] = []
        for i, ms in by_item.items():
            if any(r.state == "failed" for r in self.ended[i].values()):
                pruned += ms
                continue
            if len(ms) < self.per:
                continue
            row = mean_row([reports[m] for m in ms])
            trial = self.items[i].trial
            for tracker in self.runner.trackers:
                tracker.epoch_logged(trial.number, row)
            trial.report(row[objective], epoch)
            if trial.should_prune():
                pruned += ms
        return pruned

    def on_end(self, m: int, result: MemberResult) -> None:
        i = m // self.per
        self.ended[i][m % self.per] = result
        if len(self.ended[i]) < self.per:
            return
        self.done.add(i)
        source, item = self.source, self.items[i]
        if self.per == 1:
            source.finish(self.runner, item, result, self.group, i, self.numbers, **self.extra)
        else:
            merged, extra = merge_folds(
                [self.ended[i][f] for f in range(self.per)],
                source.spec.study.objective,
                fold_sizes(source.folds),
            )
            source.finish(
                self.runner, item, merged, self.group, i, self.numbers, **extra, **self.extra
            )
        check_interrupt()

    def interrupt(self) -> None:
        """Give back the trials that have not ended (they run again)."""
        for i, item in enumerate(self.items):
            if i not in self.done:
                self.runner.interrupt(item)

    def fail(self, reason: str) -> None:
        """Record the trials that have not ended as failed, with ``reason``."""
        for i, item in enumerate(self.items):
            if i not in self.done:
                self.done.add(i)
                result = MemberResult(state="failed", reason=reason, group_size=len(self.items))
                self.source.finish(
                    self.runner, item, result, self.group, i, self.numbers, **self.extra
                )
