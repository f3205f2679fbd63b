"""Classification metrics computed from confusion matrices.

Every metric is derived from the confusion matrix so that a whole group of
members is scored with one ``bincount`` on the device; the definitions follow
scikit-learn's (zero division gives 0).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["METRIC_NAMES", "confusion", "metrics_from_confusion"]

METRIC_NAMES = (
    "accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
)


def confusion(
    pred: torch.Tensor,
    target: torch.Tensor,
    n_classes: int,
    valid: torch.Tensor | None = None,
) -> torch.Tensor:
    """Confusion matrices ``(K, C, C)`` (rows: true class) for predictions ``(K, N)``.

    ``target`` is ``(N,)`` shared by all members or ``(K, N)``; only entries
    where ``valid`` ``(K, N)`` is true count, when it is given.
    """
    k = pred.shape[0]
    member = torch.arange(k, device=pred.device).unsqueeze(1)
    target = target if target.dim() == 2 else target.unsqueeze(0)
    flat = (member * n_classes + target) * n_classes + pred
    flat = flat.reshape(-1) if valid is None else flat[valid]
    counts = torch.bincount(flat, minlength=k * n_classes * n_classes)
    return counts.view(k, n_classes, n_classes)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def metrics_from_confusion(cm: np.ndarray) -> dict[str, float]:
    """Accuracy, and precision/recall/F1 macro- and support-weighted averages."""
    cm = cm.astype(np.float64)
    tp = np.diag(cm)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    total = cm.sum()
    precision = _safe_div(tp, predicted)
    recall = _safe_div(tp, support)
    f1 = _safe_div(2 * precision * recall, precision + recall)
    weights = support / total if total > 0 else np.zeros_like(support)
    return {
        "accuracy": float(tp.sum() / total) if total > 0 else 0.0,
        "precision_macro": float(precision.mean()),
        "recall_macro": float(recall.mean()),
        "f1_macro": float(f1.mean()),
        "precision_weighted": float((precision * weights).sum()),
        "recall_weighted": float((recall * weights).sum()),
        "f1_weighted": float((f1 * weights).sum()),
    }
