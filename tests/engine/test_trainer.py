"""The one trainer: fused groups equal members trained alone, and both equal
the textbook PyTorch loop given the same initialization and batch order."""

from __future__ import annotations

import math
from collections.abc import Iterable

import pytest
import torch
from sklearn.datasets import load_iris

from sweeplab.engine import GroupData, MemberSpec, train_group
from tests.engine._helpers import assert_same


@pytest.fixture(scope="module")
def iris64() -> GroupData:
    x, y = load_iris(return_X_y=True)
    xt = torch.tensor((x - x.min(0)) / (x.max(0) - x.min(0)))
    yt = torch.tensor(y)
    perm = torch.randperm(150, generator=torch.Generator().manual_seed(0))
    tr, va, te = perm[:105], perm[105:125], perm[125:]
    return GroupData.from_tensors(
        [xt[tr], yt[tr], xt[va], yt[va], xt[te], yt[te]], 3, dtype=torch.float64
    )


def _members(optimizer: str, activation: str = "relu", dropout: float = 0.0) -> list[MemberSpec]:
    shapes = [((8, 12), 1e-2, 6), ((16, 4), 3e-3, 4), ((5, 16), 3e-2, 6), ((16, 12), 1e-3, 5)]
    return [
        MemberSpec(
            units=units,
            activation=activation,
            dropout=dropout if i % 2 == 0 else 0.0,
            optimizer=optimizer,
            lr=lr,
            weight_decay=1e-3 * i,
            momentum=0.5 + 0.1 * i,
            beta1=0.9 - 0.05 * i,
            beta2=0.999 - 0.002 * i,
            batch_size=16,
            epochs=epochs,
            seed=100 + i,
        )
        for i, (units, lr, epochs) in enumerate(shapes)
    ]


def _prune_member_seed(seed: int, at: int):  # type: ignore[no-untyped-def]
    def on_epoch_for(members: list[MemberSpec]):  # type: ignore[no-untyped-def]
        def on_epoch(epoch: int, reports: dict[int, dict[str, float]]) -> Iterable[int]:
            return [m for m in reports if members[m].seed == seed and epoch == at]

        return on_epoch

    return on_epoch_for


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adamw", "rmsprop"])
def test_group_equals_alone_float64(iris64: GroupData, optimizer: str) -> None:
    members = _members(optimizer)
    pruner = _prune_member_seed(102, at=2)
    fused = train_group(members, iris64, on_epoch=pruner(members))
    assert fused[2].state == "pruned"
    assert fused[2].epochs == 2
    assert [r.state for r in fused] == ["complete", "complete", "pruned", "complete"]
    for member, result in zip(members, fused, strict=True):
        alone = train_group([member], iris64, on_epoch=pruner([member]))[0]
        assert_same(result, alone, tol=1e-9)


@pytest.mark.parametrize("activation", ["tanh", "gelu", "sigmoid"])
def test_group_equals_alone_activations_and_dropout(iris64: GroupData, activation: str) -> None:
    members = _members("adam", activation=activation, dropout=0.3)
    fused = train_group(members, iris64)
    for member, result in zip(members, fused, strict=True):
        assert_same(result, train_group([member], iris64)[0], tol=1e-9)


def test_order_in_group_does_not_matter(iris64: GroupData) -> None:
    members = _members("adamw")
    forward = train_group(members, iris64)
    backward = train_group(members[::-1], iris64)[::-1]
    for a, b in zip(forward, backward, strict=True):
        assert_same(a, b, tol=1e-9)


def test_member_equals_textbook_loop(iris64: GroupData) -> None:
    """One member equals nn.Sequential + torch.optim.Adam with the same init and batches."""
    member = MemberSpec(units=(10, 7), optimizer="adam", lr=1e-2, batch_size=16, epochs=3, seed=5)
    ours = train_group([member], iris64)[0]

    init_seed, shuffle_seed, _ = member.seeds()
    gen = torch.Generator().manual_seed(init_seed)
    dims = [4, 10, 7, 3]
    layers: list[torch.nn.Module] = []
    for i in range(3):
        lin = torch.nn.Linear(dims[i], dims[i + 1]).double()
        bound = 1 / math.sqrt(dims[i])
        w = torch.empty(dims[i + 1], dims[i]).uniform_(-bound, bound, generator=gen)
        b = torch.empty(dims[i + 1]).uniform_(-bound, bound, generator=gen)
        with torch.no_grad():
            lin.weight.copy_(w)
            lin.bias.copy_(b)
        layers += [lin, torch.nn.ReLU()] if i < 2 else [lin]
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    shuffle = torch.Generator().manual_seed(shuffle_seed)
    n = iris64.x_train.shape[0]
    for epoch in range(3):
        perm = torch.randperm(n, generator=shuffle)
        total = 0.0
        for start in range(0, n, 16):
            idx = perm[start : start + 16]
            loss = torch.nn.functional.cross_entropy(
                model(iris64.x_train[idx]), iris64.y_train[idx]
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        assert ours.curves[epoch]["train_loss"] == pytest.approx(total / n, abs=1e-9)
    with torch.no_grad():
        val_loss = torch.nn.functional.cross_entropy(model(iris64.x_val), iris64.y_val)
        test_acc = (model(iris64.x_test).argmax(1) == iris64.y_test).double().mean()
    assert ours.val is not None
    assert ours.test is not None
    assert ours.val["loss"] == pytest.approx(float(val_loss), abs=1e-9)
    assert ours.test["accuracy"] == pytest.approx(float(test_acc), abs=1e-12)


def test_nan_member_fails_and_others_continue(iris64: GroupData) -> None:
    good = MemberSpec(units=(8,), optimizer="sgd", lr=0.1, batch_size=16, epochs=3, seed=1)
    bad = MemberSpec(units=(8,), optimizer="sgd", lr=1e300, batch_size=16, epochs=3, seed=2)
    ended: list[int] = []
    results = train_group([good, bad], iris64, on_end=lambda m, r: ended.append(m))
    assert results[1].state == "failed"
    assert results[1].reason is not None
    assert "loss became" in results[1].reason
    assert results[0].state == "complete"
    assert results[0].epochs == 3
    assert_same(results[0], train_group([good], iris64)[0], tol=1e-9)
    assert sorted(ended) == [0, 1]


def test_float32_group_close_to_alone(iris64: GroupData) -> None:
    data32 = GroupData.from_tensors(
        [iris64.x_train, iris64.y_train, iris64.x_val, iris64.y_val, iris64.x_test, iris64.y_test],
        3,
        dtype=torch.float32,
    )
    members = _members("adam")
    for member, result in zip(members, train_group(members, data32), strict=True):
        alone = train_group([member], data32)[0]
        assert result.val is not None
        assert alone.val is not None
        assert result.val["loss"] == pytest.approx(alone.val["loss"], abs=1e-4)


def test_mixed_group_keys_are_rejected(iris64: GroupData) -> None:
    a = MemberSpec(units=(8,), batch_size=16)
    b = MemberSpec(units=(8,), batch_size=32)
    with pytest.raises(ValueError, match="share one group key"):
        train_group([a, b], iris64)


def test_keep_weights_gives_each_members_plain_sequential(iris64: GroupData) -> None:
    """Members of different widths and epochs (padded, leaving the stack at different
    times) come back unpadded as nn.Sequential state dicts that score like the engine."""
    members = _members("adam", activation="tanh", dropout=0.2)
    assert all(r.weights is None for r in train_group(members[:1], iris64))
    results = train_group(members, iris64, keep_weights=True)
    for member, result in zip(members, results, strict=True):
        assert result.state == "complete"
        assert result.weights is not None
        dims = [4, *member.units, 3]
        layers: list[torch.nn.Module] = []
        for i in range(len(dims) - 1):
            if i:
                layers.append(torch.nn.Tanh())
            layers.append(torch.nn.Linear(dims[i], dims[i + 1]))
        model = torch.nn.Sequential(*layers).double()
        model.load_state_dict(result.weights)  # strict: every name and shape
        with torch.no_grad():
            logits = model.eval()(iris64.x_test)
        loss = torch.nn.functional.cross_entropy(logits, iris64.y_test).item()
        assert result.test is not None
        assert loss == pytest.approx(result.test["loss"], abs=1e-12)
        pred = logits.argmax(1)
        cm = [[int(((iris64.y_test == t) & (pred == p)).sum()) for p in range(3)] for t in range(3)]
        assert cm == result.test_confusion


def test_results_record_the_thread_count_and_an_explicit_one_is_used(iris64: GroupData) -> None:
    members = _members("adam")
    before = torch.get_num_threads()
    chosen = train_group(members, iris64)
    assert {r.threads for r in chosen} == {1}  # iris steps are far below one thread's limit
    seen: list[int] = []

    def on_epoch(epoch: int, reports: dict[int, dict[str, float]]) -> Iterable[int]:
        seen.append(torch.get_num_threads())
        return []

    again = train_group(members, iris64, threads=2, on_epoch=on_epoch)
    assert {r.threads for r in again} == {2}
    assert set(seen) == {2}
    assert torch.get_num_threads() == before
    for a, b in zip(chosen, again, strict=True):
        assert_same(a, b, 1e-9)


def test_training_flushes_denormals_and_restores_the_mode(iris64: GroupData) -> None:
    flushed: list[bool] = []

    def on_epoch(epoch: int, reports: dict[int, dict[str, float]]) -> Iterable[int]:
        tiny = torch.tensor([1e-30], dtype=torch.float32) * 1e-10
        flushed.append(bool(tiny.item() == 0.0))
        return []

    train_group(_members("sgd")[:1], iris64, on_epoch=on_epoch)
    assert flushed
    assert all(flushed)
    assert (torch.tensor([1e-30], dtype=torch.float32) * 1e-10).item() != 0.0
