"""Scoring stacked members on a split: chunked so memory stays bounded, per-member rows padded."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from sweeplab.engine._metrics import confusion

__all__ = ["EVAL_BYTES", "evaluate_in_chunks", "evaluate_rows", "pad_rows"]

EVAL_BYTES = 64 * 2**20


def pad_rows(rows: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
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
    padded, sizes = pad_rows(rows)
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
