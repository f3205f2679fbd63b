"""Training a group that may not fit: split it in half and retry, losing nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import torch

from sweeplab.engine._data import GroupData
from sweeplab.engine._epochs import EndCallback, EpochCallback
from sweeplab.engine._member import MemberResult, MemberSpec
from sweeplab.engine._trainer import train_group

__all__ = ["train_group_splitting"]

_log = logging.getLogger(__name__)


def _free_cached(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def train_group_splitting(
    members: Sequence[MemberSpec],
    data: GroupData,
    *,
    on_epoch: EpochCallback | None = None,
    on_end: EndCallback | None = None,
    unit: int = 1,
    threads: int | None = None,
) -> list[MemberResult]:
    """:func:`train_group`, but a group that runs out of device memory is split and retried.

    Members that ended before the error keep their results (``on_end`` has
    already seen them); the others start again from their first epoch in two
    halves, recursively, so a member's numbers stay those of training it alone.
    A single member that does not fit raises ``torch.OutOfMemoryError``.
    Runs of ``unit`` consecutive members (the folds of one trial) are never split.
    ``threads`` is passed to :func:`train_group` (``None``: its own choice).
    """
    results: dict[int, MemberResult] = {}

    def ended(m: int, result: MemberResult) -> None:
        results[m] = result
        if on_end is not None:
            on_end(m, result)

    try:
        train_group(members, data, on_epoch=on_epoch, on_end=ended, threads=threads)
    except torch.OutOfMemoryError:
        rest = [m for m in range(len(members)) if m not in results]
        if len(members) <= unit or not rest:
            raise
        _free_cached(data.x_train.device)
        half = max(unit, len(rest) // (2 * unit) * unit)
        _log.warning(
            "a group of %d ran out of device memory; retrying %d members as groups of %d and %d",
            len(members),
            len(rest),
            half,
            len(rest) - half,
        )
        for part in (rest[:half], rest[half:]):
            if part:
                _train_part(part, members, data, on_epoch, ended, unit, threads)
    return [results[m] for m in range(len(members))]


def _train_part(
    part: list[int],
    members: Sequence[MemberSpec],
    data: GroupData,
    on_epoch: EpochCallback | None,
    ended: EndCallback,
    unit: int,
    threads: int | None,
) -> None:
    def sub_epoch(epoch: int, reports: dict[int, dict[str, float]]) -> Iterable[int]:
        if on_epoch is None:
            return []
        pruned = on_epoch(epoch, {part[i]: row for i, row in reports.items()})
        back = {m: i for i, m in enumerate(part)}
        return [back[m] for m in pruned if m in back]

    train_group_splitting(
        [members[m] for m in part],
        data,
        on_epoch=sub_epoch,
        on_end=lambda i, result: ended(part[i], result),
        unit=unit,
        threads=threads,
    )
