"""Tracking overhead on the Fashion-MNIST-shaped workload.

Trains the same study twice in one process, alternating: with trackers off
(only the always-on event log) and with TensorBoard, MLflow (sqlite) and
W&B (offline) on, and prints the wall time of each ``sweeplab.run`` (which
includes draining the trackers at the end) and the overhead ratio.

    PYTHONPATH=src:. python -m bench.tracking [--trials 3] [--epochs 2] [--rounds 1]

Data: synthetic 75,000 x 784 float32 (60,000 train after the split), 10
classes, class means plus Gaussian noise. Model: MLP 784-256-256-10, Adam,
batch 64; the trials differ in learning rate and train as one fused group.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import sweeplab
from sweeplab.spec import spec_from_dict


def fmnist_like() -> tuple[np.ndarray, np.ndarray]:
    """75,000 x 784 float32 features in [0, 1]-ish and 10 balanced classes."""
    rng = np.random.default_rng(0)
    n, d, c = 75_000, 784, 10
    y = np.arange(n) % c
    means = rng.normal(0.0, 1.0, size=(c, d)).astype(np.float32)
    x = means[y] + rng.normal(0.0, 2.0, size=(n, d)).astype(np.float32)
    return x, y


def _spec(name: str, trials: int, epochs: int, tracked: bool) -> Any:
    lrs = [1e-3 * (1.5**i) for i in range(trials)]
    return spec_from_dict(
        {
            "study": {"name": name, "seed": 1, "device": "cpu"},
            "data": {
                "dataset": "bench.tracking:fmnist_like",
                "split": [0.8, 0.1, 0.1],
                "scale": "none",
            },
            "params": {
                "depth": 2,
                "units": 256,
                "optimizer": "adam",
                "batch_size": 64,
                "epochs": epochs,
            },
            "search": {"strategy": "grid", "space": {"lr": lrs}},
            "track": {
                "tensorboard": tracked,
                "mlflow": tracked,
                "wandb": "offline" if tracked else False,
            },
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    times: dict[bool, list[float]] = {False: [], True: []}
    tmp = Path(tempfile.mkdtemp(prefix="sweeplab-bench-"))
    try:
        for r in range(args.rounds):
            for tracked in (False, True):
                name = f"bench-{'tracked' if tracked else 'plain'}-{r}"
                spec = _spec(name, args.trials, args.epochs, tracked)
                start = time.perf_counter()
                study = sweeplab.run(spec, runs_dir=tmp)
                elapsed = time.perf_counter() - start
                train = max(rec.duration_s for rec in study.records())
                times[tracked].append(elapsed)
                label = "trackers on " if tracked else "trackers off"
                print(f"{label}: run {elapsed:6.2f} s (fused training {train:6.2f} s)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    plain, tracked_s = min(times[False]), min(times[True])
    print(
        f"{args.trials} trials x {args.epochs} epochs, 60,000 x 784, MLP 784-256-256-10: "
        f"off {plain:.2f} s, on {tracked_s:.2f} s, "
        f"overhead {tracked_s / plain:.3f}x ({100 * (tracked_s / plain - 1):+.1f}%)"
    )


if __name__ == "__main__":
    main()
