"""The one epoch loop every stacked model runs through: train, validate, prune, fail, finish.

Members that finish, are pruned or fail leave the stacked tensors at the end
of the epoch, so they stop costing compute. A member may name a fold
(``MemberSpec.fold``): it then trains and validates on that fold's rows of a
shared pool, so the k folds of a cross-validated trial are k more members of
one group rather than k more runs.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

import torch
import torch.nn.functional as F

from sweeplab.engine._data import GroupData
from sweeplab.engine._evaluate import pad_rows
from sweeplab.engine._member import MemberResult, MemberSpec
from sweeplab.engine._metrics import metrics_from_confusion
from sweeplab.engine._optim import StackedOptimizer

__all__ = ["DIVERGENCE_FACTOR", "EndCallback", "EpochCallback", "Stacked", "run_stack"]

_log = logging.getLogger(__name__)

EpochCallback = Callable[[int, dict[int, dict[str, float]]], Iterable[int]]
"""Called after each epoch with ``{member: val metrics}``; returns members to prune."""
EndCallback = Callable[[int, MemberResult], None]
"""Called once per member as soon as it has finished, been pruned or failed."""
DIVERGENCE_FACTOR = 100.0
"""A member whose mean training loss exceeds this many times log(C) has diverged."""


class Stacked(Protocol):
    """What the epoch loop needs of a stacked model (the MLP, or vmapped modules)."""

    shuffle_gens: list[torch.Generator]
    optimizer: StackedOptimizer

    @property
    def size(self) -> int: ...

    def parameters(self) -> list[torch.Tensor]: ...

    def train_forward(self, x: torch.Tensor) -> torch.Tensor: ...

    def evaluate(
        self, x: torch.Tensor, y: torch.Tensor, n_classes: int, sel: list[int] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]: ...

    def evaluate_members(
        self, x: torch.Tensor, y: torch.Tensor, rows: Sequence[torch.Tensor], n_classes: int
    ) -> tuple[torch.Tensor, torch.Tensor]: ...

    def select(self, keep: list[int]) -> None: ...


class _Folds:
    """The train and validation rows of each active member, when members have folds."""

    def __init__(self, members: Sequence[MemberSpec], data: GroupData) -> None:
        folds = [m.fold for m in members]
        if any(f is None for f in folds) or any(
            f >= len(data.folds) for f in folds if f is not None
        ):
            raise ValueError(
                f"members must all have a fold in [0, {len(data.folds)}), but got folds {folds}"
            )
        self.train = [data.folds[m.fold][0] for m in members if m.fold is not None]
        self.val = [data.folds[m.fold][1] for m in members if m.fold is not None]

    @classmethod
    def of(cls, members: Sequence[MemberSpec], data: GroupData) -> _Folds | None:
        return None if all(m.fold is None for m in members) else cls(members, data)

    def select(self, keep: list[int]) -> None:
        self.train = [self.train[i] for i in keep]
        self.val = [self.val[i] for i in keep]


def run_stack(
    stack: Stacked,
    members: Sequence[MemberSpec],
    data: GroupData,
    on_epoch: EpochCallback | None,
    on_end: EndCallback | None,
    weights: Callable[[int], dict[str, torch.Tensor]] | None = None,
    threads: int | None = None,
) -> list[MemberResult]:
    """The epoch loop shared by every stacked model: train, validate, prune, finish.

    ``threads`` is recorded in each ``MemberResult.threads``.

    ``weights(pos)``, when given, is called for each member that ends with test
    metrics (before it leaves the stack) and its result goes to ``MemberResult.weights``.
    """
    start = time.perf_counter()
    n_classes = data.n_classes
    active = list(range(len(members)))
    results: dict[int, MemberResult] = {}
    history: dict[int, list[dict[str, float]]] = {m: [] for m in active}
    folds = _Folds.of(members, data)
    batch = members[0].batch_size
    sizes = [len(r) for r in folds.train] if folds else [data.x_train.shape[0]] * len(members)
    steps = [math.ceil(n / batch) for n in sizes]
    diverged = DIVERGENCE_FACTOR * math.log(max(n_classes, 2))
    for epoch in range(1, max(m.epochs for m in members) + 1):
        train_loss = _train_epoch(stack, data, batch, folds)
        if folds:
            val_loss, val_cm = stack.evaluate_members(
                data.x_train, data.y_train, folds.val, n_classes
            )
        else:
            val_loss, val_cm = stack.evaluate(data.x_val, data.y_val, n_classes)
        elapsed = time.perf_counter() - start
        val_loss_host, cms = val_loss.cpu().tolist(), val_cm.cpu().numpy()
        reports: dict[int, dict[str, float]] = {}
        failed: dict[int, str] = {}
        for pos, member in enumerate(active):
            tl, vl = train_loss[pos], val_loss_host[pos]
            if not (math.isfinite(tl) and math.isfinite(vl)):
                failed[member] = f"loss became {'nan' if math.isnan(tl) else tl} at epoch {epoch}"
                continue
            if tl > diverged:
                failed[member] = (
                    f"diverged: train loss {tl:.3g} at epoch {epoch} is over "
                    f"{DIVERGENCE_FACTOR:g} x the loss of a uniform guess "
                    f"({math.log(n_classes):.3g})"
                )
                continue
            row = {"epoch": float(epoch), "train_loss": tl, "val_loss": vl}
            row.update({f"val_{k}": v for k, v in metrics_from_confusion(cms[pos]).items()})
            row["elapsed_s"] = elapsed
            reports[member] = row
        for m, row in reports.items():
            history[m].append(row)
        going = {m: r for m, r in reports.items() if members[m].epochs > epoch}
        pruned = set(on_epoch(epoch, going)) & set(going) if on_epoch and going else set()
        ending = [m for m in active if m in failed or m in pruned or members[m].epochs == epoch]
        finished = [active.index(m) for m in ending if m not in failed]
        test_metrics = _final_test(stack, data, finished)
        for m in ending:
            pos = active.index(m)
            result = MemberResult(
                state="failed",
                reason=failed.get(m),
                epochs=epoch,
                train_steps=epoch * steps[m],
                curves=history[m],
                duration_s=time.perf_counter() - start,
                group_size=len(members),
                threads=threads,
            )
            if pos in test_metrics:
                result.state = "pruned" if m in pruned else "complete"
                result.reason = f"pruned after epoch {epoch}" if m in pruned else None
                last = history[m][-1]
                result.val = {k[4:]: v for k, v in last.items() if k.startswith("val_")}
                result.val_confusion = cms[pos].tolist()
                result.test, result.test_confusion = test_metrics[pos]
                if weights is not None:
                    result.weights = weights(pos)
            results[m] = result
            if on_end is not None:
                on_end(m, result)
        keep = [pos for pos, m in enumerate(active) if m not in ending]
        active = [active[pos] for pos in keep]
        if not active:
            break
        if ending:
            stack.select(keep)
            if folds:
                folds.select(keep)
    _log.debug("group of %d trained in %.2fs", len(members), time.perf_counter() - start)
    return [results[m] for m in range(len(members))]


def _train_epoch(
    stack: Stacked, data: GroupData, batch: int, folds: _Folds | None = None
) -> list[float]:
    """One epoch over shuffled index batches; the mean training loss per member."""
    n = data.x_train.shape[0]
    device = data.x_train.device
    if folds is None:
        orders = [torch.randperm(n, generator=g, device=device) for g in stack.shuffle_gens]
    else:
        orders = [
            rows[torch.randperm(len(rows), generator=g, device=device)]
            for rows, g in zip(folds.train, stack.shuffle_gens, strict=True)
        ]
        if len({len(o) for o in orders}) > 1:
            return _train_epoch_ragged(stack, data, batch, orders)
        n = len(orders[0])
    perms = torch.stack(orders)
    k = stack.size
    total = torch.zeros(k, dtype=torch.float64, device=device)
    n_classes = data.n_classes
    params = stack.parameters()
    stack.optimizer.params = params
    for begin in range(0, n, batch):
        idx = perms[:, begin : begin + batch]
        xb, yb = data.x_train[idx], data.y_train[idx]
        logits = stack.train_forward(xb)
        per_member = (
            F.cross_entropy(logits.reshape(-1, n_classes), yb.reshape(-1), reduction="none")
            .view(k, -1)
            .mean(1)
        )
        for p in params:
            p.grad = None
        per_member.sum().backward()  # type: ignore[no-untyped-call]
        stack.optimizer.step()
        total += per_member.detach().to(torch.float64) * idx.shape[1]
    return (total / n).cpu().tolist()


def _final_test(
    stack: Stacked, data: GroupData, positions: list[int]
) -> dict[int, tuple[dict[str, float], list[list[int]]]]:
    """Test metrics of the members at ``positions`` (keyed by position order)."""
    if not positions:
        return {}
    loss, cm = stack.evaluate(data.x_test, data.y_test, data.n_classes, sel=positions)
    out: dict[int, tuple[dict[str, float], list[list[int]]]] = {}
    cms = cm.cpu().numpy()
    for i, pos in enumerate(positions):
        metrics = metrics_from_confusion(cms[i])
        metrics["loss"] = float(loss[i])
        out[pos] = (metrics, cms[i].tolist())
    return out


def _train_epoch_ragged(
    stack: Stacked, data: GroupData, batch: int, orders: list[torch.Tensor]
) -> list[float]:
    """:func:`_train_epoch` for members whose folds differ in size.

    Each member's loss is the mean over its own samples of the step; a member
    whose epoch has no samples left at a step is not updated by it.
    """
    device = data.x_train.device
    k, n_classes = stack.size, data.n_classes
    padded, sizes = pad_rows(orders)
    lengths = [len(o) for o in orders]
    total = torch.zeros(k, dtype=torch.float64, device=device)
    params = stack.parameters()
    stack.optimizer.params = params
    for begin in range(0, padded.shape[1], batch):
        idx = padded[:, begin : begin + batch]
        counts = [max(0, min(idx.shape[1], n - begin)) for n in lengths]
        count_t = torch.tensor(counts, device=device)
        valid = torch.arange(idx.shape[1], device=device).unsqueeze(0) < count_t.unsqueeze(1)
        logits = stack.train_forward(data.x_train[idx])
        ce = F.cross_entropy(
            logits.reshape(-1, n_classes), data.y_train[idx].reshape(-1), reduction="none"
        ).view(k, -1)
        per_member = torch.where(valid, ce, 0.0).sum(1) / count_t.clamp(min=1).to(ce.dtype)
        for p in params:
            p.grad = None
        per_member.sum().backward()  # type: ignore[no-untyped-call]
        stack.optimizer.step(skip=[j for j, c in enumerate(counts) if c == 0])
        total += per_member.detach().to(torch.float64) * count_t
    return (total / sizes).cpu().tolist()
