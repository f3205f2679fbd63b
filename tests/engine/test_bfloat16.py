"""bfloat16 products with float32 master weights: trains, is deterministic, scores like float32."""

from __future__ import annotations

import pytest
import torch

from sweeplab.engine import GroupData, MemberSpec, train_group
from sweeplab.engine._mlp import MLPStack


def _data(dtype: torch.dtype) -> GroupData:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(900, 20, generator=gen)
    y = (x[:, :3].sum(1) * 1.6).long().clamp(max=3)
    parts = [x[:600], y[:600], x[600:750], y[600:750], x[750:], y[750:]]
    return GroupData.from_tensors(parts, 4, dtype=dtype)


MEMBERS = [
    MemberSpec(units=(32, 32), batch_size=16, epochs=6, seed=s, lr=3e-3, dropout=d)
    for s, d in ((1, 0.0), (2, 0.1), (3, 0.0))
] + [MemberSpec(units=(8, 16), batch_size=16, epochs=6, seed=4, lr=3e-3)]


def test_bfloat16_data_keeps_float32_tensors_and_masters() -> None:
    data = _data(torch.bfloat16)
    assert data.x_train.dtype == torch.float32
    assert data.compute_dtype == torch.bfloat16
    stack = MLPStack(MEMBERS, 20, 4, torch.device("cpu"), torch.float32, torch.bfloat16)
    logits = stack.train_forward(data.x_train[:16].expand(len(MEMBERS), 16, 20))
    assert logits.dtype == torch.float32
    logits.sum().backward()  # type: ignore[no-untyped-call]
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in stack.parameters())


def test_bfloat16_training_is_deterministic_and_close_to_float32() -> None:
    low = train_group(MEMBERS, _data(torch.bfloat16), threads=1)
    again = train_group(MEMBERS, _data(torch.bfloat16), threads=1)
    full = train_group(MEMBERS, _data(torch.float32), threads=1)
    assert [r.test for r in low] == [r.test for r in again]
    assert [r.curves[-1]["train_loss"] for r in low] == [r.curves[-1]["train_loss"] for r in again]
    for a, b in zip(low, full, strict=True):
        assert a.state == b.state == "complete"
        assert a.test is not None
        assert b.test is not None
        assert a.test["accuracy"] > 0.5  # well above the 0.25 of a guess
        assert a.test["accuracy"] == pytest.approx(b.test["accuracy"], abs=0.06)
        assert a.curves[-1]["train_loss"] != b.curves[-1]["train_loss"]  # it did run in bf16
