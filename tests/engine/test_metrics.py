"""Metrics from confusion matrices agree with scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from sweeplab.engine import metrics_from_confusion
from sweeplab.engine._metrics import confusion


@pytest.mark.parametrize("seed", range(5))
def test_metrics_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_classes = 4
    y = rng.integers(0, n_classes, 200)
    pred = np.where(rng.random(200) < 0.6, y, rng.integers(0, n_classes, 200))
    if seed == 0:
        pred[pred == 3] = 2  # a class never predicted: zero division gives 0
    cm = confusion(torch.tensor(pred)[None], torch.tensor(y), n_classes)[0].numpy()
    np.testing.assert_array_equal(cm, confusion_matrix(y, pred, labels=range(n_classes)))
    ours = metrics_from_confusion(cm)
    assert ours["accuracy"] == pytest.approx(accuracy_score(y, pred))
    for avg in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(
            y, pred, average=avg, labels=range(n_classes), zero_division=0
        )
        assert ours[f"precision_{avg}"] == pytest.approx(p)
        assert ours[f"recall_{avg}"] == pytest.approx(r)
        assert ours[f"f1_{avg}"] == pytest.approx(f)


def test_confusion_is_per_member() -> None:
    y = torch.tensor([0, 1, 1])
    pred = torch.tensor([[0, 1, 1], [1, 1, 0]])
    cm = confusion(pred, y, 2)
    assert cm[0].tolist() == [[1, 0], [0, 2]]
    assert cm[1].tolist() == [[0, 1], [1, 1]]
