"""Custom models: K user ``nn.Module`` s of one structure trained as one vmapped model.

The parameters of K structurally equal modules are stacked with
``torch.func.stack_module_state`` and applied with ``vmap(functional_call)``;
updates use the engine's stacked optimizers, so each member follows its own
lr, weight decay, momentum and betas. A member's numbers depend only on its
module (built under its own seed), its shuffle generator and its
hyperparameters, never on its group: the exactness test holds as for the MLP.
Modules with random operations (dropout) draw them per member through
``vmap(randomness="different")``, which is not group-invariant.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from sweeplab.engine._member import MemberResult, MemberSpec
from sweeplab.engine._metrics import confusion, metrics_from_confusion
from sweeplab.engine._optim import StackedOptimizer, make_optimizer
from sweeplab.engine._trainer import (
    DIVERGENCE_FACTOR,
    EndCallback,
    EpochCallback,
    GroupData,
)

__all__ = ["structure_key", "train_modules"]

_log = logging.getLogger(__name__)
_EVAL_ROWS = 8192


def structure_key(module: nn.Module) -> tuple[Any, ...]:
    """Modules with equal keys can be stacked: same code, parameter names and shapes."""
    params = tuple((n, tuple(p.shape)) for n, p in module.named_parameters())
    buffers = tuple((n, tuple(b.shape)) for n, b in module.named_buffers())
    kinds = tuple(type(m).__qualname__ for m in module.modules())
    return (kinds, params, buffers)


class _ModuleStack:
    def __init__(
        self,
        modules: Sequence[nn.Module],
        members: Sequence[MemberSpec],
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        modules = [m.to(device=device, dtype=dtype) for m in modules]
        params, buffers = stack_module_state(list(modules))
        self.names = list(params)
        self.params = {k: v.detach().clone().requires_grad_() for k, v in params.items()}
        self.buffers = {k: v.detach().clone() for k, v in buffers.items()}
        self.base = copy.deepcopy(modules[0]).to("meta")
        self.random = any(isinstance(m, nn.Dropout) and m.p > 0 for m in modules[0].modules())
        self.shuffle_gens = [
            torch.Generator(device=device).manual_seed(m.seeds()[1]) for m in members
        ]
        hyper = {
            name: torch.tensor([getattr(m, name) for m in members], dtype=dtype, device=device)
            for name in ("lr", "weight_decay", "momentum", "beta1", "beta2")
        }
        self.optimizer: StackedOptimizer = make_optimizer(
            members[0].optimizer, [self.params[n] for n in self.names], hyper
        )

    @property
    def size(self) -> int:
        return len(self.shuffle_gens)

    def forward(self, x: torch.Tensor, train: bool, shared: bool) -> torch.Tensor:
        """Logits ``(K, n, C)`` for ``x`` of ``(K, n, F)``, or ``(n, F)`` when ``shared``."""
        self.base.train(train)

        def call(p: dict[str, torch.Tensor], b: dict[str, torch.Tensor], xb: torch.Tensor) -> Any:
            return functional_call(self.base, (p, b), (xb,))

        randomness = "different" if (train and self.random) else "error"
        fn = vmap(call, in_dims=(0, 0, None if shared else 0), randomness=randomness)
        out: torch.Tensor = fn(self.params, self.buffers, x)
        return out

    def select(self, keep: list[int]) -> None:
        idx = torch.tensor(keep, device=self.params[self.names[0]].device)
        self.params = {k: v.detach()[idx].requires_grad_() for k, v in self.params.items()}
        self.buffers = {k: v[idx] for k, v in self.buffers.items()}
        self.shuffle_gens = [self.shuffle_gens[i] for i in keep]
        self.optimizer.select(idx, [self.params[n] for n in self.names])

    @torch.no_grad()
    def evaluate(
        self, x: torch.Tensor, y: torch.Tensor, n_classes: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        k = self.size
        loss = torch.zeros(k, dtype=torch.float64, device=x.device)
        cm = torch.zeros(k, n_classes, n_classes, dtype=torch.long, device=x.device)
        for start in range(0, x.shape[0], _EVAL_ROWS):
            xb, yb = x[start : start + _EVAL_ROWS], y[start : start + _EVAL_ROWS]
            logits = self.forward(xb, train=False, shared=True)
            ce = F.cross_entropy(
                logits.reshape(-1, n_classes), yb.repeat(k), reduction="none"
            ).view(k, -1)
            loss += ce.sum(1, dtype=torch.float64)
            cm += confusion(logits.argmax(-1), yb, n_classes)
        return loss / x.shape[0], cm


def _check(modules: Sequence[nn.Module], members: Sequence[MemberSpec]) -> None:
    if not modules or len(modules) != len(members):
        raise ValueError(
            f"modules must be one per member, but got {len(modules)} for {len(members)} members"
        )
    keys = {structure_key(m) for m in modules}
    if len(keys) > 1:
        raise ValueError("modules must share one structure to train as a group, but they differ")
    if len({(m.optimizer, m.batch_size) for m in members}) > 1:
        raise ValueError("members must share optimizer and batch_size, but they differ")


def train_modules(
    modules: Sequence[nn.Module],
    members: Sequence[MemberSpec],
    data: GroupData,
    *,
    on_epoch: EpochCallback | None = None,
    on_end: EndCallback | None = None,
) -> list[MemberResult]:
    """Train ``modules`` (one per member, one structure) together, like ``train_group``.

    ``members`` give each module's optimizer hyperparameters, batch size,
    epochs and seed (for shuffling). Callbacks and results are those of
    :func:`sweeplab.engine.train_group`.
    """
    _check(modules, members)
    start = time.perf_counter()
    device, dtype = data.x_train.device, data.x_train.dtype
    n_classes = data.n_classes
    stack = _ModuleStack(modules, members, device, dtype)
    active = list(range(len(members)))
    results: dict[int, MemberResult] = {}
    history: dict[int, list[dict[str, float]]] = {m: [] for m in active}
    n = data.x_train.shape[0]
    batch = members[0].batch_size
    steps = math.ceil(n / batch)
    diverged = DIVERGENCE_FACTOR * math.log(max(n_classes, 2))
    for epoch in range(1, max(m.epochs for m in members) + 1):
        train_loss = _train_epoch(stack, data, batch)
        val_loss, val_cm = stack.evaluate(data.x_val, data.y_val, n_classes)
        elapsed = time.perf_counter() - start
        val_host, cms = val_loss.cpu().tolist(), val_cm.cpu().numpy()
        reports: dict[int, dict[str, float]] = {}
        failed: dict[int, str] = {}
        for pos, member in enumerate(active):
            tl, vl = train_loss[pos], val_host[pos]
            if not (math.isfinite(tl) and math.isfinite(vl)):
                failed[member] = f"loss became {'nan' if math.isnan(tl) else tl} at epoch {epoch}"
                continue
            if tl > diverged:
                failed[member] = f"diverged: train loss {tl:.3g} at epoch {epoch}"
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
        if ending:
            test_loss, test_cm = stack.evaluate(data.x_test, data.y_test, n_classes)
            test_cms = test_cm.cpu().numpy()
        for m in ending:
            pos = active.index(m)
            result = MemberResult(
                state="failed",
                reason=failed.get(m),
                epochs=epoch,
                train_steps=epoch * steps,
                curves=history[m],
                duration_s=time.perf_counter() - start,
                group_size=len(members),
            )
            if m not in failed:
                result.state = "pruned" if m in pruned else "complete"
                result.reason = f"pruned after epoch {epoch}" if m in pruned else None
                last = history[m][-1]
                result.val = {k[4:]: v for k, v in last.items() if k.startswith("val_")}
                result.val_confusion = cms[pos].tolist()
                result.test = metrics_from_confusion(test_cms[pos])
                result.test["loss"] = float(test_loss[pos])
                result.test_confusion = test_cms[pos].tolist()
            results[m] = result
            if on_end is not None:
                on_end(m, result)
        keep = [pos for pos, m in enumerate(active) if m not in ending]
        active = [active[pos] for pos in keep]
        if not active:
            break
        if ending:
            stack.select(keep)
    _log.debug("module group of %d trained in %.2fs", len(members), time.perf_counter() - start)
    return [results[m] for m in range(len(members))]


def _train_epoch(stack: _ModuleStack, data: GroupData, batch: int) -> list[float]:
    n = data.x_train.shape[0]
    device = data.x_train.device
    perms = torch.stack([torch.randperm(n, generator=g, device=device) for g in stack.shuffle_gens])
    k = stack.size
    total = torch.zeros(k, dtype=torch.float64, device=device)
    n_classes = data.n_classes
    params = [stack.params[name] for name in stack.names]
    stack.optimizer.params = params
    for begin in range(0, n, batch):
        idx = perms[:, begin : begin + batch]
        xb, yb = data.x_train[idx], data.y_train[idx]
        logits = stack.forward(xb, train=True, shared=False)
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
