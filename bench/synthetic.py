"""Synthetic Fashion-MNIST-shaped data for the engine benchmark.

``fmnist_shaped`` is a ``module:function`` data source for a study file
(``data.dataset = "synthetic:fmnist_shaped"`` with ``bench/`` on ``sys.path``).
Its size comes from ``SWEEPLAB_BENCH_SAMPLES`` (default 60,000) because a data
function takes no arguments.
"""

from __future__ import annotations

import os

import numpy as np

N_FEATURES = 784
N_CLASSES = 10
SAMPLES_ENV = "SWEEPLAB_BENCH_SAMPLES"


def make(n_samples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n_samples`` x 784 float32 in [0, 1]: one mean image per class plus noise.

    The class means are close enough that a linear model does not reach 100 %,
    so the accuracy of a trial says something about its hyperparameters.
    """
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.3, 0.7, size=N_FEATURES)
    means = base + 0.025 * rng.standard_normal((N_CLASSES, N_FEATURES))
    y = np.arange(n_samples) % N_CLASSES
    rng.shuffle(y)
    x = means[y] + 0.25 * rng.standard_normal((n_samples, N_FEATURES))
    return np.clip(x, 0.0, 1.0).astype(np.float32), y.astype(np.int64)


def fmnist_shaped() -> dict[str, object]:
    """The data function a study file names; see the module docstring."""
    x, y = make(int(os.environ.get(SAMPLES_ENV, "60000")))
    return {"x": x, "y": y, "classes": [f"class{i}" for i in range(N_CLASSES)]}
