"""Custom models as a trial source: ``[model] factory = "module:function"``.

The factory gets a trial's config (its flat parameters plus ``n_features`` and
``n_classes``) and returns an ``nn.Module`` mapping ``(n, n_features)`` to
``(n, n_classes)`` logits. It is called under the trial's own init seed, so a
trial's weights do not depend on its group. Trials whose modules share a
structure (and optimizer and batch size) train as one vmapped group; the
others run on their own.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from sweeplab.engine import GroupData, MemberResult, MemberSpec, structure_key, train_modules
from sweeplab.spec import StudySpec, load_callable
from sweeplab.study._fused import FusedSource
from sweeplab.study._loop import Runner, Running

__all__ = ["FactorySource", "build_module"]


def build_module(
    factory: Any, config: dict[str, Any], init_seed: int, n_features: int, n_classes: int
) -> nn.Module:
    """The factory's module for ``config``, its random init drawn from ``init_seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        module = factory({**config, "n_features": n_features, "n_classes": n_classes})
    if not isinstance(module, nn.Module):
        raise TypeError(f"model.factory must return an nn.Module, but returned {module!r}")
    return module


def _cap(spec: StudySpec, module: nn.Module, elem: int) -> int:
    n_params = sum(p.numel() for p in module.parameters())
    cap = max(1, min(256, 2 * 2**30 // max(1, elem * 6 * n_params)))
    if spec.search.group_size:
        cap = min(cap, spec.search.group_size)
    return cap


def _trainer(
    modules: list[nn.Module],
    members: Sequence[MemberSpec],
    data: GroupData,
    *,
    unit: int = 1,
    **callbacks: Any,
) -> list[MemberResult]:
    return train_modules(modules, members, data, **callbacks)


class FactorySource(FusedSource):
    """Trials whose model comes from the study's ``[model] factory``, fused where identical."""

    def __init__(self, spec: StudySpec, *args: Any, **kwargs: Any) -> None:
        super().__init__(spec, *args, **kwargs)
        assert spec.model.factory is not None
        self.factory = load_callable(spec.model.factory, what="model.factory")

    def modules(self, item: Running, members: Sequence[MemberSpec]) -> list[nn.Module]:
        """One module per member (fold) of ``item``, each under the member's init seed."""
        n_features, n_classes = self.dataset.n_features, self.dataset.n_classes
        return [
            build_module(self.factory, item.params, m.seeds()[0], n_features, n_classes)
            for m in members
        ]

    def train(self, runner: Runner, batch: Sequence[Running]) -> None:
        """Train ``batch``, fusing trials whose modules differ only in parameter values."""
        buckets: dict[tuple[Any, ...], list[tuple[Running, list[MemberSpec], list[nn.Module]]]]
        buckets = defaultdict(list)
        for item in batch:
            members = self.members(item)
            try:
                modules = self.modules(item, members)
            except Exception as exc:
                reason = f"model.factory failed: {type(exc).__name__}: {exc}"
                self.finish(runner, item, MemberResult(state="failed", reason=reason), "factory")
                continue
            key = (structure_key(modules[0]), members[0].optimizer, members[0].batch_size)
            buckets[key].append((item, members, modules))
        elem = 8 if self.dtype == torch.float64 else 4
        for entries in buckets.values():
            cap = max(1, _cap(self.spec, entries[0][2][0], elem) // len(entries[0][1]))
            for start in range(0, len(entries), cap):
                chunk = entries[start : start + cap]
                self.train_chunk(
                    runner,
                    [e[0] for e in chunk],
                    [m for e in chunk for m in e[1]],
                    functools.partial(_trainer, [m for e in chunk for m in e[2]]),
                )
