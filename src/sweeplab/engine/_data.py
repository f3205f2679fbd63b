"""The tensors a group trains on: train/val/test on the device in its dtype, and fold rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["GroupData"]


@dataclass(frozen=True)
class GroupData:
    """Train/val/test tensors already on the training device, in its dtype.

    ``folds`` are ``(train_rows, val_rows)`` index tensors into ``x_train``;
    members with a ``fold`` use those rows instead of all of ``x_train`` and
    ``x_val``. The test set is always shared. ``compute_dtype`` (bfloat16, or
    ``None`` for the tensors' own dtype) is what training's matrix products
    run in: the weights and optimizer stay in the tensors' dtype (float32
    master weights) and validation and test are scored in it.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    folds: tuple[tuple[torch.Tensor, torch.Tensor], ...] = ()
    compute_dtype: torch.dtype | None = None

    @classmethod
    def from_tensors(
        cls,
        tensors: Sequence[torch.Tensor],
        n_classes: int,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        folds: Sequence[tuple[Any, Any]] = (),
    ) -> GroupData:
        """Move ``(x_train, y_train, x_val, y_val, x_test, y_test)`` and fold rows to the device.

        ``dtype=torch.bfloat16`` keeps the tensors in float32 and trains with
        bfloat16 matrix products (``compute_dtype``).
        """
        compute = None
        if dtype == torch.bfloat16:
            dtype, compute = torch.float32, torch.bfloat16
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
        return cls(xs[0], ys[0], xs[1], ys[1], xs[2], ys[2], n_classes, rows, compute)
