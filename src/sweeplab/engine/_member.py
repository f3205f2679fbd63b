"""What the engine needs to know about one trial."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

__all__ = ["MemberResult", "MemberSpec", "derive_seed"]

State = Literal["complete", "pruned", "failed"]


def derive_seed(*parts: int) -> int:
    """A 63-bit seed that depends only on ``parts`` (e.g. study seed, trial key)."""
    state = np.random.SeedSequence([int(p) for p in parts]).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & (2**63 - 1)


@dataclass(frozen=True)
class MemberSpec:
    """One trial's architecture, optimizer and seed, as the engine trains it."""

    units: tuple[int, ...]
    activation: str = "relu"
    dropout: float = 0.0
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    batch_size: int = 32
    epochs: int = 10
    seed: int = 0
    fold: int | None = None
    """Index into ``GroupData.folds``: train and validate on that fold's rows."""

    def __post_init__(self) -> None:
        if not self.units or any(u < 1 for u in self.units):
            raise ValueError(
                f"units must be a non-empty tuple of widths >= 1, but got {self.units}"
            )
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be >= 1")
        if self.fold is not None and self.fold < 0:
            raise ValueError(f"fold must be None or >= 0, but got {self.fold}")

    @property
    def depth(self) -> int:
        return len(self.units)

    def group_key(self) -> tuple[Any, ...]:
        """Members with equal keys can be trained as one stacked model."""
        return (self.depth, self.activation, self.optimizer, self.batch_size)

    def seeds(self) -> tuple[int, int, int]:
        """Independent seeds for initialization, shuffling and dropout."""
        a, b, c = (derive_seed(self.seed, i) for i in range(3))
        return a, b, c


@dataclass
class MemberResult:
    """What training one member produced."""

    state: State
    reason: str | None = None
    epochs: int = 0
    train_steps: int = 0
    curves: list[dict[str, float]] = field(default_factory=list)
    val: dict[str, float] | None = None
    test: dict[str, float] | None = None
    val_confusion: list[list[int]] | None = None
    test_confusion: list[list[int]] | None = None
    duration_s: float = 0.0
    group_size: int = 1
    threads: int | None = None
    """CPU intra-op threads the member's group trained with (``None`` off the CPU).
    Passing it back as ``train_group(threads=...)`` trains with the same count."""
    weights: dict[str, torch.Tensor] | None = None
    """The trained parameters on the CPU, only with ``train_group(keep_weights=True)``:
    the state dict of the equivalent ``nn.Sequential(Linear, act, ..., Linear)``
    (``0.weight`` of shape ``(out, in)``, ``0.bias``, ``2.weight``, ...)."""
