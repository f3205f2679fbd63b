"""Cross-validation folds as members: a fused k-fold group equals k trainings,
each alone on its own fold materialized as plain train/val tensors."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris
from sklearn.model_selection import StratifiedKFold

from sweeplab.engine import GroupData, MemberSpec, train_group
from tests.engine._helpers import assert_same


@pytest.fixture(scope="module")
def pool() -> tuple[torch.Tensor, torch.Tensor, list[tuple[np.ndarray, np.ndarray]]]:
    x, y = load_iris(return_X_y=True)
    x = (x - x.min(0)) / (x.max(0) - x.min(0))
    # 103 pool rows: 5 folds train on 82 or 83 rows, so at batch 41 the folds
    # differ in step count and one fold skips the last update of each epoch.
    order = np.random.default_rng(0).permutation(150)
    xp, yp = torch.tensor(x[order[:103]]), torch.tensor(y[order[:103]])
    folds = list(StratifiedKFold(5, shuffle=True, random_state=1).split(xp.numpy(), yp.numpy()))
    assert {len(tr) for tr, _ in folds} == {82, 83}
    return xp, yp, folds


def _test_set() -> tuple[torch.Tensor, torch.Tensor]:
    x, y = load_iris(return_X_y=True)
    x = (x - x.min(0)) / (x.max(0) - x.min(0))
    order = np.random.default_rng(0).permutation(150)
    return torch.tensor(x[order[103:]]), torch.tensor(y[order[103:]])


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adamw", "rmsprop"])
@pytest.mark.parametrize("batch", [16, 41])
def test_fused_kfold_equals_each_fold_alone(
    pool: tuple[torch.Tensor, torch.Tensor, list[tuple[np.ndarray, np.ndarray]]],
    optimizer: str,
    batch: int,
) -> None:
    xp, yp, folds = pool
    xt, yt = _test_set()
    data = GroupData.from_tensors(
        [xp, yp, xp[:0], yp[:0], xt, yt], 3, dtype=torch.float64, folds=folds
    )
    configs = [
        MemberSpec(units=(8, 12), optimizer=optimizer, lr=1e-2, batch_size=batch, epochs=4),
        MemberSpec(
            units=(16, 4),
            optimizer=optimizer,
            lr=3e-3,
            weight_decay=1e-3,
            momentum=0.7,
            beta1=0.85,
            batch_size=batch,
            epochs=3,
        ),
    ]
    members = [
        dataclasses.replace(c, seed=10 * i + f, fold=f)
        for i, c in enumerate(configs)
        for f in range(len(folds))
    ]
    fused = train_group(members, data)
    assert all(r.state == "complete" for r in fused)
    for member, result in zip(members, fused, strict=True):
        assert member.fold is not None
        tr, va = folds[member.fold]
        alone_data = GroupData.from_tensors(
            [xp[tr], yp[tr], xp[va], yp[va], xt, yt], 3, dtype=torch.float64
        )
        alone = train_group([dataclasses.replace(member, fold=None)], alone_data)[0]
        assert_same(result, alone, tol=1e-9)
        assert result.train_steps == member.epochs * math.ceil(len(tr) / batch)


def test_members_must_all_name_a_fold(
    pool: tuple[torch.Tensor, torch.Tensor, list[tuple[np.ndarray, np.ndarray]]],
) -> None:
    xp, yp, folds = pool
    data = GroupData.from_tensors([xp, yp, xp, yp, xp, yp], 3, folds=folds[:2])
    with pytest.raises(ValueError, match="must all have a fold"):
        train_group([MemberSpec(units=(4,), fold=0), MemberSpec(units=(4,))], data)
    with pytest.raises(ValueError, match="must all have a fold"):
        train_group([MemberSpec(units=(4,), fold=2)], data)


def test_empty_fold_is_refused(
    pool: tuple[torch.Tensor, torch.Tensor, list[tuple[np.ndarray, np.ndarray]]],
) -> None:
    xp, yp, _ = pool
    with pytest.raises(ValueError, match="fold 0 must have train and val rows"):
        GroupData.from_tensors([xp, yp, xp, yp, xp, yp], 3, folds=[(np.arange(10), np.arange(0))])
