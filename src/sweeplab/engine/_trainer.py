"""``train_group``: K members of the built-in MLP trained as one stacked model.

There is one trainer: the MLP stack (``_mlp.py``) and vmapped custom modules
(``_functional.py``) both run through the epoch loop of ``_epochs.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sweeplab.engine._calibrate import calibration, group_step_work
from sweeplab.engine._data import GroupData
from sweeplab.engine._device import cpu_threads, flush_denormals
from sweeplab.engine._epochs import EndCallback, EpochCallback, run_stack
from sweeplab.engine._member import MemberResult, MemberSpec
from sweeplab.engine._mlp import MLPStack

__all__ = ["train_group"]

_log = logging.getLogger(__name__)


def _check_group(members: Sequence[MemberSpec]) -> None:
    if not members:
        raise ValueError("members must be a non-empty sequence, but got an empty one")
    keys = {m.group_key() for m in members}
    if len(keys) > 1:
        raise ValueError(f"members must share one group key, but got {sorted(map(str, keys))}")


def train_group(
    members: Sequence[MemberSpec],
    data: GroupData,
    *,
    on_epoch: EpochCallback | None = None,
    on_end: EndCallback | None = None,
    keep_weights: bool = False,
    threads: int | None = None,
) -> list[MemberResult]:
    """Train ``members`` together and return one result per member, in order.

    A member whose training loss becomes NaN or infinite, or diverges (over
    ``DIVERGENCE_FACTOR`` times the loss of a uniform guess), is recorded as
    failed and removed; the others go on. ``on_epoch`` sees the validation metrics of
    the members still training and may prune some of them. On the CPU the
    thread count follows the size of a step and this machine's calibration
    (see ``cpu_threads``), unless ``threads`` gives it (to reproduce a run:
    ``MemberResult.threads`` is the count used), and denormal floats are
    flushed to zero (see ``flush_denormals``).
    ``keep_weights`` puts each finished member's trained parameters in
    ``MemberResult.weights`` (for ``sweeplab finalize``; a search never keeps them).
    """
    _check_group(members)
    n_features = data.x_train.shape[1]
    device, dtype = data.x_train.device, data.x_train.dtype
    work = group_step_work(members, n_features, data.n_classes)
    small_step = calibration(device).small_step if threads is None else None
    with cpu_threads(device, work, threads, small_step) as n, flush_denormals(device):
        if device.type == "cpu":
            _log.debug(
                "group of %d: %d threads for %.3g multiply-adds a step", len(members), n, work
            )
        stack = MLPStack(members, n_features, data.n_classes, device, dtype, data.compute_dtype)
        weights = stack.member_state if keep_weights else None
        used = n if device.type == "cpu" else None
        return run_stack(stack, members, data, on_epoch, on_end, weights, used)
