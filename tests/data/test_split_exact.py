"""The stratified split equals scikit-learn's ``train_test_split``, bit for bit.

Studies split before the split was written out must keep their rows, so the
two are compared on many seeded cases: balanced and skewed classes, ties in
the per-class remainders, small and large parts.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from sweeplab.data._split import _train_test_split, split_indices


def _cases(n_cases: int) -> list[tuple[np.ndarray, int, int]]:
    rng = np.random.default_rng(20261130)
    cases = []
    for _ in range(n_cases):
        n_classes = int(rng.integers(2, 12))
        n = int(rng.integers(4 * n_classes, 3000))
        weights = rng.dirichlet(np.full(n_classes, float(rng.choice([0.3, 1.0, 50.0]))))
        y = rng.choice(n_classes, size=n, p=weights)
        y[: 2 * n_classes] = np.repeat(np.arange(n_classes), 2)  # every class twice
        lo, hi = n_classes, n - n_classes
        n_test = int(rng.integers(lo, hi + 1))
        seed = int(rng.integers(0, 2**32))
        cases.append((y.astype(np.int64), n_test, seed))
    return cases


@pytest.mark.parametrize("chunk", range(4))
def test_equal_to_scikit_learn(chunk: int) -> None:
    for y, n_test, seed in _cases(1000)[chunk::4]:
        rows = np.arange(100, 100 + len(y), dtype=np.int64)
        want = train_test_split(rows, test_size=n_test, stratify=y, random_state=seed)
        got = _train_test_split(rows, n_test, y, seed)
        assert np.array_equal(got[0], want[0])
        assert np.array_equal(got[1], want[1])


def test_split_indices_of_a_built_in_shape() -> None:
    y = np.repeat(np.arange(10), 7000).astype(np.int64)  # Fashion-MNIST-sized
    parts = split_indices(y, [52_500, 7_500, 10_000], seed=1)
    rest, test = train_test_split(np.arange(len(y)), test_size=10_000, stratify=y, random_state=1)
    rest2, val = train_test_split(rest, test_size=7_500, stratify=y[rest], random_state=1)
    assert np.array_equal(parts[2], test)
    assert np.array_equal(parts[1], val)
    assert np.array_equal(parts[0], rest2)
