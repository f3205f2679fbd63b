"""A group that runs out of memory is split and retried; no member is lost or changed."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
import torch

from sweeplab.engine import (
    GroupData,
    MemberResult,
    MemberSpec,
    _epochs,
    train_group,
    train_group_splitting,
)


@pytest.fixture
def data() -> GroupData:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(120, 5, generator=gen, dtype=torch.float64)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    return GroupData.from_tensors(
        [x[:80], y[:80], x[80:100], y[80:100], x[100:], y[100:]], 3, dtype=torch.float64
    )


def test_out_of_memory_group_is_split_and_equals_alone(
    data: GroupData, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = [
        MemberSpec(units=(8,), lr=1e-2 * (i + 1), batch_size=16, epochs=2 + i % 3, seed=i)
        for i in range(5)
    ]
    alone = [train_group([m], data)[0] for m in members]
    real_epoch = _epochs._train_epoch
    sizes: list[int] = []

    def small_memory(
        stack: _epochs.Stacked, d: GroupData, batch: int, folds: object = None
    ) -> list[float]:
        sizes.append(stack.size)
        if stack.size > 2:
            raise torch.OutOfMemoryError("simulated: group too large")
        return real_epoch(stack, d, batch, folds)  # type: ignore[arg-type]

    monkeypatch.setattr(_epochs, "_train_epoch", small_memory)
    seen: list[int] = []
    pruned_epochs: list[tuple[int, list[int]]] = []

    def on_epoch(epoch: int, reports: dict[int, dict[str, float]]) -> Iterable[int]:
        pruned_epochs.append((epoch, sorted(reports)))
        return []

    def on_end(m: int, result: MemberResult) -> None:
        seen.append(m)

    fused = train_group_splitting(members, data, on_epoch=on_epoch, on_end=on_end)
    assert sorted(s for s in sizes if s > 2) == [3, 5]
    assert sorted(seen) == [0, 1, 2, 3, 4]
    assert all(set(r) <= set(range(5)) for _, r in pruned_epochs)
    for a, b in zip(fused, alone, strict=True):
        assert (a.state, a.epochs) == (b.state, b.epochs)
        assert a.val is not None
        assert b.val is not None
        assert a.val["loss"] == pytest.approx(b.val["loss"], abs=1e-12)


def test_single_member_out_of_memory_is_raised(
    data: GroupData, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_memory(*args: object) -> list[float]:
        raise torch.OutOfMemoryError("simulated")

    monkeypatch.setattr(_epochs, "_train_epoch", no_memory)
    with pytest.raises(torch.OutOfMemoryError):
        train_group_splitting([MemberSpec(units=(4,), epochs=1)], data)


def test_explicit_threads_reach_every_split_part(
    data: GroupData, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = [MemberSpec(units=(8,), batch_size=16, epochs=2, seed=i) for i in range(4)]
    real_epoch = _epochs._train_epoch

    def small_memory(
        stack: _epochs.Stacked, d: GroupData, batch: int, folds: object = None
    ) -> list[float]:
        if stack.size > 2:
            raise torch.OutOfMemoryError("simulated: group too large")
        return real_epoch(stack, d, batch, folds)  # type: ignore[arg-type]

    monkeypatch.setattr(_epochs, "_train_epoch", small_memory)
    results = train_group_splitting(members, data, threads=2)
    assert [r.threads for r in results] == [2, 2, 2, 2]
    assert [r.group_size for r in results] == [2, 2, 2, 2]
