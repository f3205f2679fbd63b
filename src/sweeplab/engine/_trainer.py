"""The one trainer: a group of K members trained as one stacked MLP.

Every layer of every member is a slice of one ``(K, in, out)`` tensor and is
applied with ``torch.baddbmm``; different widths are zero-padded and masked.
Each member draws its initialization, shuffling and dropout from its own
generators, so its numbers do not depend on the group it trains in. Members
that finish, are pruned or fail leave the stacked tensors at the end of the
epoch, so they stop costing compute.

A member may name a fold (``MemberSpec.fold``): it then trains and validates
on that fold's rows of a shared pool, so the k folds of a cross-validated
trial are k more members of one group rather than k more runs.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
import torch.nn.functional as F

from sweeplab.engine._calibrate import calibration, step_work
from sweeplab.engine._device import cpu_threads, flush_denormals
from sweeplab.engine._member import MemberResult, MemberSpec
from sweeplab.engine._metrics import confusion, metrics_from_confusion
from sweeplab.engine._optim import StackedOptimizer, make_optimizer

__all__ = ["ACTIVATION_FUNCTIONS", "EndCallback", "EpochCallback", "GroupData", "train_group"]

_log = logging.getLogger(__name__)

EpochCallback = Callable[[int, dict[int, dict[str, float]]], Iterable[int]]
"""Called after each epoch with ``{member: val metrics}``; returns members to prune."""
EndCallback = Callable[[int, MemberResult], None]
"""Called once per member as soon as it has finished, been pruned or failed."""

ACTIVATION_FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "gelu": F.gelu,
    "sigmoid": torch.sigmoid,
}
_EVAL_BYTES = 64 * 2**20
DIVERGENCE_FACTOR = 100.0
"""A member whose mean training loss exceeds this many times log(C) has diverged."""


@dataclass(frozen=True)
class GroupData:
    """Train/val/test tensors already on the training device, in its dtype.

    ``folds`` are ``(train_rows, val_rows)`` index tensors into ``x_train``;
    members with a ``fold`` use those rows instead of all of ``x_train`` and
    ``x_val``. The test set is always shared.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    folds: tuple[tuple[torch.Tensor, torch.Tensor], ...] = ()

    @classmethod
    def from_tensors(
        cls,
        tensors: Sequence[torch.Tensor],
        n_classes: int,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        folds: Sequence[tuple[Any, Any]] = (),
    ) -> GroupData:
        """Move ``(x_train, y_train, x_val, y_val, x_test, y_test)`` and fold rows to the device."""
        xs = [t.to(device=device, dtype=dtype) for t in tensors[0::2]]
        ys = [t.to(device=device, dtype=torch.long) for t in tensors[1::2]]
        rows = tuple(
            (
                torch.as_tensor(train, dtype=torch.long, device=device),
                torch.as_tensor(val, dtype=torch.long, device=device),
            )
            for train, val in folds
        )
        for i, (train, val) in enumerate(rows):
            if train.numel() == 0 or val.numel() == 0:
                raise ValueError(f"fold {i} must have train and val rows, but one is empty")
        return cls(xs[0], ys[0], xs[1], ys[1], xs[2], ys[2], n_classes, rows)


class _Stack:
    """Stacked weights, masks, generators and optimizer of the active members."""

    def __init__(
        self,
        members: Sequence[MemberSpec],
        n_features: int,
        n_classes: int,
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        first = members[0]
        self.depth = first.depth
        self.act = ACTIVATION_FUNCTIONS[first.activation]
        k = len(members)
        hidden = [max(m.units[i] for m in members) for i in range(self.depth)]
        dims = [n_features, *hidden, n_classes]
        self.weights: list[torch.Tensor] = []
        self.biases: list[torch.Tensor] = []
        for i in range(self.depth + 1):
            self.weights.append(torch.zeros(k, dims[i], dims[i + 1], dtype=dtype))
            self.biases.append(torch.zeros(k, 1, dims[i + 1], dtype=dtype))
        self.shuffle_gens: list[torch.Generator] = []
        self.dropout_gens: list[torch.Generator] = []
        for j, m in enumerate(members):
            init_seed, shuffle_seed, dropout_seed = m.seeds()
            gen = torch.Generator().manual_seed(init_seed)
            real = [n_features, *m.units, n_classes]
            for i in range(self.depth + 1):
                bound = 1.0 / math.sqrt(real[i])
                w = torch.empty(real[i + 1], real[i]).uniform_(-bound, bound, generator=gen)
                b = torch.empty(real[i + 1]).uniform_(-bound, bound, generator=gen)
                self.weights[i][j, : real[i], : real[i + 1]] = w.T.to(dtype)
                self.biases[i][j, 0, : real[i + 1]] = b.to(dtype)
            self.shuffle_gens.append(torch.Generator(device=device).manual_seed(shuffle_seed))
            self.dropout_gens.append(torch.Generator(device=device).manual_seed(dropout_seed))
        self.weights = [w.to(device).requires_grad_() for w in self.weights]
        self.biases = [b.to(device).requires_grad_() for b in self.biases]
        padded = any(m.units != tuple(hidden) for m in members)
        self.masks: list[torch.Tensor] | None = None
        if padded:
            self.masks = [
                (
                    torch.arange(hidden[i]).unsqueeze(0)
                    < torch.tensor([[m.units[i]] for m in members])
                )
                .to(device=device, dtype=dtype)
                .unsqueeze(1)
                for i in range(self.depth)
            ]
        self.units = [m.units for m in members]
        self.dropout = [m.dropout for m in members]
        self.has_dropout = any(p > 0 for p in self.dropout)
        hyper = {
            name: torch.tensor([getattr(m, name) for m in members], dtype=dtype, device=device)
            for name in ("lr", "weight_decay", "momentum", "beta1", "beta2")
        }
        self.optimizer: StackedOptimizer = make_optimizer(
            first.optimizer, [*self.weights, *self.biases], hyper
        )

    @property
    def size(self) -> int:
        return self.weights[0].shape[0]

    def parameters(self) -> list[torch.Tensor]:
        return [*self.weights, *self.biases]

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x, train=True)

    def forward(
        self, x: torch.Tensor, train: bool, sel: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits ``(K, n, C)``; ``x`` is ``(K, n, F)`` or shared ``(n, F)``."""
        ws = self.weights if sel is None else [w[sel] for w in self.weights]
        bs = self.biases if sel is None else [b[sel] for b in self.biases]
        h = x
        for i in range(self.depth):
            h = torch.matmul(h, ws[i]) + bs[i] if h.dim() == 2 else torch.baddbmm(bs[i], h, ws[i])
            h = self.act(h)
            if self.masks is not None:
                h = h * (self.masks[i] if sel is None else self.masks[i][sel])
            if train and self.has_dropout:
                h = h * self._dropout_mask(i, h)
        if h.dim() == 2:
            return torch.matmul(h, ws[-1]) + bs[-1]
        return torch.baddbmm(bs[-1], h, ws[-1])

    def _dropout_mask(self, layer: int, h: torch.Tensor) -> torch.Tensor:
        """Each member's mask from its own generator, so it does not depend on the group.

        A counter-based mask (a hash of member seed, step, layer, row and
        column, one vectorised call for the stack) was measured 3x slower on
        the CPU (K = 8, 64 x 256: 2.9 ms against 0.95 ms for this loop of K
        ``torch.rand`` calls), so the loop stays.
        """
        mask = torch.ones_like(h)
        n = h.shape[1]
        for j, p in enumerate(self.dropout):
            if p > 0:
                width = self.units[j][layer]
                keep = torch.rand(n, width, generator=self.dropout_gens[j], device=h.device) >= p
                mask[j, :, :width] = keep.to(h.dtype) / (1 - p)
        return mask

    def member_state(self, pos: int) -> dict[str, torch.Tensor]:
        """The member at ``pos`` unpadded, as the state dict of the equivalent
        ``nn.Sequential(Linear, act, ..., Linear)`` (Linear ``i`` is entry ``2 i``),
        copied to the CPU."""
        dims = [self.weights[0].shape[1], *self.units[pos], self.weights[-1].shape[2]]
        state: dict[str, torch.Tensor] = {}
        for i in range(self.depth + 1):
            w = self.weights[i].detach()[pos, : dims[i], : dims[i + 1]]
            b = self.biases[i].detach()[pos, 0, : dims[i + 1]]
            state[f"{2 * i}.weight"] = w.to("cpu", copy=True).T.contiguous()
            state[f"{2 * i}.bias"] = b.to("cpu", copy=True).contiguous()
        return state

    def select(self, keep: list[int]) -> None:
        """Keep only the members at positions ``keep``."""
        idx = torch.tensor(keep, device=self.weights[0].device)
        self.weights = [w.detach()[idx].requires_grad_() for w in self.weights]
        self.biases = [b.detach()[idx].requires_grad_() for b in self.biases]
        if self.masks is not None:
            self.masks = [m[idx] for m in self.masks]
        self.shuffle_gens = [self.shuffle_gens[i] for i in keep]
        self.dropout_gens = [self.dropout_gens[i] for i in keep]
        self.units = [self.units[i] for i in keep]
        self.dropout = [self.dropout[i] for i in keep]
        self.has_dropout = any(p > 0 for p in self.dropout)
        self.optimizer.select(idx, [*self.weights, *self.biases])

    @torch.no_grad()
    def evaluate(
        self, x: torch.Tensor, y: torch.Tensor, n_classes: int, sel: list[int] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean cross-entropy ``(K,)`` and confusion matrices ``(K, C, C)``."""
        idx = None if sel is None else torch.tensor(sel, device=x.device)
        k = self.size if sel is None else len(sel)
        widest = max(w.shape[2] for w in self.weights)
        rows = max(1, _EVAL_BYTES // max(1, k * widest * x.element_size()))
        return evaluate_in_chunks(
            lambda xb: self.forward(xb, train=False, sel=idx), x, y, n_classes, k, rows
        )

    @torch.no_grad()
    def evaluate_members(
        self, x: torch.Tensor, y: torch.Tensor, rows: Sequence[torch.Tensor], n_classes: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Like :meth:`evaluate`, member ``k`` on its own rows ``rows[k]`` of ``x``."""
        widest = max(w.shape[2] for w in self.weights)
        chunk = max(1, _EVAL_BYTES // max(1, self.size * widest * x.element_size()))
        return evaluate_rows(lambda xb: self.forward(xb, train=False), x, y, rows, n_classes, chunk)


def _pad_rows(rows: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Index rows of unequal length padded to ``(K, max)`` with each row's first index,
    and their lengths ``(K,)``."""
    width = max(len(r) for r in rows)
    padded = torch.stack([torch.cat([r, r[:1].expand(width - len(r))]) for r in rows])
    sizes = torch.tensor([len(r) for r in rows], device=padded.device)
    return padded, sizes


def evaluate_rows(
    forward: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    rows: Sequence[torch.Tensor],
    n_classes: int,
    chunk: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy ``(K,)`` and confusion matrices ``(K, C, C)`` of ``forward``
    (``(K, n, F)`` to ``(K, n, C)``), member ``k`` scored on ``x[rows[k]]``."""
    k = len(rows)
    padded, sizes = _pad_rows(rows)
    loss = torch.zeros(k, dtype=torch.float64, device=x.device)
    cm = torch.zeros(k, n_classes, n_classes, dtype=torch.long, device=x.device)
    for start in range(0, padded.shape[1], chunk):
        idx = padded[:, start : start + chunk]
        positions = torch.arange(start, start + idx.shape[1], device=x.device)
        valid = positions.unsqueeze(0) < sizes.unsqueeze(1)
        logits = forward(x[idx])
        yb = y[idx]
        ce = F.cross_entropy(logits.reshape(-1, n_classes), yb.reshape(-1), reduction="none")
        loss += torch.where(valid, ce.view(k, -1), 0.0).sum(1, dtype=torch.float64)
        cm += confusion(logits.argmax(-1), yb, n_classes, valid)
    return loss / sizes, cm


def evaluate_in_chunks(
    forward: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    n_classes: int,
    k: int,
    rows: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy ``(K,)`` and confusion matrices ``(K, C, C)`` of ``forward``
    (shared ``(n, F)`` rows to ``(K, n, C)`` logits), ``rows`` samples at a time."""
    loss = torch.zeros(k, dtype=torch.float64, device=x.device)
    cm = torch.zeros(k, n_classes, n_classes, dtype=torch.long, device=x.device)
    for start in range(0, x.shape[0], rows):
        xb, yb = x[start : start + rows], y[start : start + rows]
        logits = forward(xb)
        ce = F.cross_entropy(logits.reshape(-1, n_classes), yb.repeat(k), reduction="none")
        loss += ce.view(k, -1).sum(1, dtype=torch.float64)
        cm += confusion(logits.argmax(-1), yb, n_classes)
    return loss / x.shape[0], cm


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
    widest = [max(m.units[i] for m in members) for i in range(members[0].depth)]
    dims = [n_features, *widest, data.n_classes]
    device, dtype = data.x_train.device, data.x_train.dtype
    work = step_work(len(members), members[0].batch_size, dims)
    small_step = calibration(device).small_step if threads is None else None
    with cpu_threads(device, work, threads, small_step) as n, flush_denormals(device):
        if device.type == "cpu":
            _log.debug(
                "group of %d: %d threads for %.3g multiply-adds a step", len(members), n, work
            )
        stack = _Stack(members, n_features, data.n_classes, device, dtype)
        weights = stack.member_state if keep_weights else None
        used = n if device.type == "cpu" else None
        return run_stack(stack, members, data, on_epoch, on_end, weights, used)


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
    padded, sizes = _pad_rows(orders)
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
