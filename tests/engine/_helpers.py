"""Shared assertions of the engine tests."""

from __future__ import annotations

import math

from sweeplab.engine import MemberResult


def assert_same(a: MemberResult, b: MemberResult, tol: float) -> None:
    assert (a.state, a.epochs, a.train_steps, a.reason) == (
        b.state,
        b.epochs,
        b.train_steps,
        b.reason,
    )
    assert len(a.curves) == len(b.curves)
    for ra, rb in zip(a.curves, b.curves, strict=True):
        for key in ra:
            if key != "elapsed_s":
                assert math.isclose(ra[key], rb[key], rel_tol=0, abs_tol=tol), key
    for split in ("val", "test"):
        da, db = getattr(a, split), getattr(b, split)
        assert da is not None
        assert db is not None
        for key in da:
            assert math.isclose(da[key], db[key], rel_tol=0, abs_tol=tol), (split, key)
    assert a.val_confusion == b.val_confusion
    assert a.test_confusion == b.test_confusion
