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
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from sweeplab.engine._data import GroupData
from sweeplab.engine._epochs import EndCallback, EpochCallback, run_stack
from sweeplab.engine._evaluate import evaluate_in_chunks, evaluate_rows
from sweeplab.engine._member import MemberResult, MemberSpec
from sweeplab.engine._optim import StackedOptimizer, make_optimizer

__all__ = ["structure_key", "train_modules"]

_log = logging.getLogger(__name__)
_EVAL_ROWS = 8192


def _setting(value: Any) -> Any:
    """A comparable stand-in for one non-parameter attribute of a module."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return tuple(_setting(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _setting(v)) for k, v in value.items()))
    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.shape), value.detach().cpu().flatten().tolist()[:64])
    if callable(value):
        name = getattr(value, "__qualname__", None) or type(value).__qualname__
        return ("callable", getattr(value, "__module__", None), name)
    return ("object", type(value).__module__, type(value).__qualname__, repr(value)[:200])


def structure_key(module: nn.Module) -> tuple[Any, ...]:
    """Modules with equal keys can be stacked: equal in everything but parameter values.

    ``vmap(functional_call)`` runs one module's code with each member's
    parameters, so everything else must be equal across members: the classes,
    parameter and buffer names and shapes, and every non-parameter setting
    (``extra_repr()``, e.g. a LayerNorm's ``eps`` or a Dropout's ``p``, and
    the public attributes a ``forward`` may read, e.g. an activation
    function kept as an attribute). Trials whose modules differ in any of it
    train in separate groups instead of silently sharing member 0's settings.
    """
    params = tuple((n, tuple(p.shape)) for n, p in module.named_parameters())
    buffers = tuple((n, tuple(b.shape)) for n, b in module.named_buffers())
    settings = tuple(
        (
            name,
            type(m).__module__,
            type(m).__qualname__,
            m.extra_repr(),
            tuple(
                (k, _setting(v))
                for k, v in sorted(vars(m).items())
                if not k.startswith("_") and not isinstance(v, nn.Module)
            ),
        )
        for name, m in module.named_modules()
    )
    return (settings, params, buffers)


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

    def parameters(self) -> list[torch.Tensor]:
        return [self.params[name] for name in self.names]

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x, train=True, shared=False)

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
        self, x: torch.Tensor, y: torch.Tensor, n_classes: int, sel: list[int] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if sel is not None:
            loss_all, cm_all = self.evaluate(x, y, n_classes)
            return loss_all[sel], cm_all[sel]
        return evaluate_in_chunks(
            lambda xb: self.forward(xb, train=False, shared=True),
            x,
            y,
            n_classes,
            self.size,
            _EVAL_ROWS,
        )

    @torch.no_grad()
    def evaluate_members(
        self, x: torch.Tensor, y: torch.Tensor, rows: Sequence[torch.Tensor], n_classes: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return evaluate_rows(
            lambda xb: self.forward(xb, train=False, shared=False),
            x,
            y,
            rows,
            n_classes,
            _EVAL_ROWS,
        )


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
    stack = _ModuleStack(modules, members, data.x_train.device, data.x_train.dtype)
    return run_stack(stack, members, data, on_epoch, on_end)
