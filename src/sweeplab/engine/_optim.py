"""Optimizers for stacked parameters, one set of hyperparameters per member.

Each update follows the formula of its ``torch.optim`` counterpart (default
``foreach=False`` path) with lr, weight decay, momentum and betas given per
member as tensors shaped to broadcast over a stacked parameter ``(K, ...)``.

On the CPU, SGD, momentum, Adam and AdamW instead call PyTorch's fused
single-pass kernels (``torch._fused_sgd_``, ``torch._fused_adam(w)_``, what
``torch.optim`` runs with ``fused=True``): one pass over memory instead of a
dozen, which made the Adam update about 6x faster and the whole training step
about 2x (bench/engine.py). The kernels take scalar hyperparameters, so members
are grouped by equal hyperparameters and update count, and each group is one
call: over the whole stacked tensors when every member is in it, else over the
members' slices (profiled on Fashion-MNIST, K = 8, 784-256-256-10: 2.1 ms per
step with one call per member, 1.1 ms with one call for the stack).
On other devices one stacked kernel per operation beats K launches per step.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch

__all__ = ["OPTIMIZERS", "StackedOptimizer", "make_optimizer"]


class StackedOptimizer(ABC):
    """Updates a list of stacked parameters in place from their ``.grad``.

    Contract: member ``k`` of every parameter is updated only from member
    ``k`` of its gradient, state and hyperparameters, so a member's trajectory
    does not depend on the other members of its group. ``counts[k]`` is the
    number of updates member ``k`` has had (its Adam bias correction step).
    """

    fusable = False
    """Whether :meth:`_fused_step` exists for this optimizer."""

    def __init__(self, params: Sequence[torch.Tensor], hyper: dict[str, torch.Tensor]) -> None:
        self.params = list(params)
        self.hyper = hyper
        self.state: list[dict[str, torch.Tensor]] = [{} for _ in self.params]
        self.counts = [0] * (self.params[0].shape[0] if self.params else 0)
        self._host: dict[str, list[float]] = {}

    def _use_fused(self) -> bool:
        return (
            self.fusable
            and bool(self.params)
            and self.params[0].device.type == "cpu"
            and self.params[0].dtype in (torch.float32, torch.float64)
            and all(p.grad is not None for p in self.params)
        )

    def _hyper_host(self) -> dict[str, list[float]]:
        if not self._host:
            self._host = {k: [float(x) for x in v.tolist()] for k, v in self.hyper.items()}
        return self._host

    def _fused_groups(self, names: Sequence[str], *extra: Sequence[object]) -> list[list[int]]:
        """Members with equal hyperparameters ``names`` (and ``extra`` per member), in order."""
        h = self._hyper_host()
        groups: dict[tuple[object, ...], list[int]] = {}
        for k in range(len(self.counts)):
            key = (*(h[n][k] for n in names), *(e[k] for e in extra))
            groups.setdefault(key, []).append(k)
        return list(groups.values())

    def _slices(self, tensors: Sequence[torch.Tensor], members: list[int]) -> list[torch.Tensor]:
        """``tensors`` whole when ``members`` are all members, else their slices."""
        if len(members) == len(self.counts):
            return list(tensors)
        return [t[k] for k in members for t in tensors]

    def _fused_step(self) -> None:
        """One update of every member through a fused kernel (see the module doc).

        Optimizers without a fused kernel (``fusable = False``) use the stacked update.
        """
        self._stacked_step()

    def _h(self, name: str, p: torch.Tensor) -> torch.Tensor:
        value = self.hyper[name]
        return value.view(-1, *([1] * (p.dim() - 1)))

    @property
    def uniform_steps(self) -> int | None:
        """The update count when every member has had the same number, else ``None``."""
        return self.counts[0] if len(set(self.counts)) == 1 else None

    def _steps(self, p: torch.Tensor) -> int | torch.Tensor:
        """Per-member update counts, shaped to broadcast over ``p``."""
        same = self.uniform_steps
        if same is not None:
            return same
        counts = torch.tensor(self.counts, dtype=p.dtype, device=p.device)
        return counts.view(-1, *([1] * (p.dim() - 1)))

    @torch.no_grad()
    def step(self, skip: Sequence[int] = ()) -> None:
        """Apply one update to every parameter, except to the members in ``skip``."""
        skipped = set(skip)
        self.counts = [c + (k not in skipped) for k, c in enumerate(self.counts)]
        if not skipped:
            self._update_all()
            return
        idx = torch.tensor(sorted(skipped), dtype=torch.long, device=self.params[0].device)
        params = [p[idx].clone() for p in self.params]
        states = [{k: v[idx].clone() for k, v in s.items()} for s in self.state]
        self._update_all()
        for p, old in zip(self.params, params, strict=True):
            p[idx] = old
        for s, old_state in zip(self.state, states, strict=True):
            for k, v in old_state.items():
                s[k][idx] = v

    def _update_all(self) -> None:
        if self._use_fused():
            self._fused_step()
        else:
            self._stacked_step()

    def _stacked_step(self) -> None:
        for p, state in zip(self.params, self.state, strict=True):
            if p.grad is not None:
                self._update(p, p.grad, state)

    @abstractmethod
    def _update(self, p: torch.Tensor, g: torch.Tensor, state: dict[str, torch.Tensor]) -> None:
        """Update ``p`` in place from gradient ``g``."""

    def select(self, keep: torch.Tensor, params: Sequence[torch.Tensor]) -> None:
        """Keep only the members ``keep`` (for new, already-sliced ``params``)."""
        self.params = list(params)
        self.hyper = {k: v[keep] for k, v in self.hyper.items()}
        self.state = [{k: v[keep].clone() for k, v in s.items()} for s in self.state]
        self.counts = [self.counts[i] for i in keep.tolist()]
        self._host = {}

    def _l2(self, p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return g + self._h("weight_decay", p) * p


class SGD(StackedOptimizer):
    fusable = True

    def _fused_step(self) -> None:
        h = self._hyper_host()
        momentum = isinstance(self, Momentum)
        if momentum:
            for p, state in zip(self.params, self.state, strict=True):
                if "buf" not in state:
                    state["buf"] = torch.zeros_like(p)
        first = [c == 1 for c in self.counts]
        names = ("lr", "weight_decay", "momentum") if momentum else ("lr", "weight_decay")
        grads = [p.grad for p in self.params if p.grad is not None]
        bufs = [s["buf"] for s in self.state] if momentum else []
        for group in self._fused_groups(names, first):
            k = group[0]
            beta = h["momentum"][k] if momentum else 0.0
            torch._fused_sgd_(
                self._slices(self.params, group),
                self._slices(grads, group),
                self._slices(bufs, group) if beta > 0 else [],
                weight_decay=h["weight_decay"][k],
                momentum=beta,
                lr=h["lr"][k],
                dampening=0.0,
                nesterov=False,
                maximize=False,
                is_first_step=first[k],
            )

    def _update(self, p: torch.Tensor, g: torch.Tensor, state: dict[str, torch.Tensor]) -> None:
        p.sub_(self._h("lr", p) * self._l2(p, g))


class Momentum(SGD):
    """SGD with heavy-ball momentum (``torch.optim.SGD(momentum=m)``)."""

    def _update(self, p: torch.Tensor, g: torch.Tensor, state: dict[str, torch.Tensor]) -> None:
        d = self._l2(p, g)
        buf = state.get("buf")
        if buf is None:
            buf = state["buf"] = d.clone()
        else:
            buf.mul_(self._h("momentum", p)).add_(d)
        p.sub_(self._h("lr", p) * buf)


class Adam(StackedOptimizer):
    decoupled = False
    fusable = True

    def _fused_step(self) -> None:
        h = self._hyper_host()
        for p, state in zip(self.params, self.state, strict=True):
            if "m" not in state:
                state["m"] = torch.zeros_like(p)
                state["v"] = torch.zeros_like(p)
        kernel = torch._fused_adamw_ if self.decoupled else torch._fused_adam_
        grads = [p.grad for p in self.params if p.grad is not None]
        ms = [s["m"] for s in self.state]
        vs = [s["v"] for s in self.state]
        names = ("lr", "beta1", "beta2", "weight_decay")
        for group in self._fused_groups(names, self.counts):
            k = group[0]
            params = self._slices(self.params, group)
            step = torch.full((), float(self.counts[k]), dtype=torch.float32)
            kernel(
                params,
                self._slices(grads, group),
                self._slices(ms, group),
                self._slices(vs, group),
                [],
                [step] * len(params),
                lr=h["lr"][k],
                beta1=h["beta1"][k],
                beta2=h["beta2"][k],
                weight_decay=h["weight_decay"][k],
                eps=1e-8,
                amsgrad=False,
                maximize=False,
            )

    def _update(self, p: torch.Tensor, g: torch.Tensor, state: dict[str, torch.Tensor]) -> None:
        lr, b1, b2 = self._h("lr", p), self._h("beta1", p), self._h("beta2", p)
        if self.decoupled:
            p.mul_(1 - lr * self._h("weight_decay", p))
        else:
            g = self._l2(p, g)
        if "m" not in state:
            state["m"] = torch.zeros_like(p)
            state["v"] = torch.zeros_like(p)
        m, v = state["m"], state["v"]
        m.lerp_(g, 1 - b1)
        v.mul_(b2).addcmul_(g, g * (1 - b2))
        steps = self._steps(p)
        bc1 = 1 - b1**steps
        bc2_sqrt = (1 - b2**steps).sqrt()
        denom = (v.sqrt() / bc2_sqrt).add_(1e-8)
        p.sub_((lr / bc1) * m / denom)


class AdamW(Adam):
    decoupled = True


class RMSprop(StackedOptimizer):
    """``torch.optim.RMSprop`` with its defaults (alpha 0.99, eps 1e-8)."""

    alpha = 0.99

    def _update(self, p: torch.Tensor, g: torch.Tensor, state: dict[str, torch.Tensor]) -> None:
        g = self._l2(p, g)
        if "sq" not in state:
            state["sq"] = torch.zeros_like(p)
        sq = state["sq"]
        sq.mul_(self.alpha).addcmul_(g, g, value=1 - self.alpha)
        p.sub_(self._h("lr", p) * g / sq.sqrt().add_(1e-8))


OPTIMIZERS: dict[str, type[StackedOptimizer]] = {
    "sgd": SGD,
    "momentum": Momentum,
    "adam": Adam,
    "adamw": AdamW,
    "rmsprop": RMSprop,
}


def make_optimizer(
    name: str, params: Sequence[torch.Tensor], hyper: dict[str, torch.Tensor]
) -> StackedOptimizer:
    """The stacked optimizer called ``name``."""
    try:
        cls = OPTIMIZERS[name]
    except KeyError:
        raise ValueError(
            f"optimizer must be one of {sorted(OPTIMIZERS)}, but got {name!r}"
        ) from None
    return cls(params, hyper)
