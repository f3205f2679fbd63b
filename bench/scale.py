"""Scale-out measurements for docs/scaling.md.

Usage: python benchmarks/scale.py [--workers 1 2 4] [--postgres URL]

Prints trials/s of a small grid study with 1, 2 and 4 local workers, and
the storage write rate (set_trial_user_attr calls/s) of the journal file
and, with --postgres, of PostgreSQL.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import optuna

from sweeplab.backends import run_local
from sweeplab.spec import spec_from_dict
from sweeplab.store._lock import FlockLock


def _spec(name: str) -> object:
    return spec_from_dict(
        {
            "study": {"name": name, "seed": 1, "device": "cpu"},
            "data": {"dataset": "digits"},
            "params": {"units": 32, "epochs": 2},
            "search": {
                "strategy": "grid",
                "group_size": 4,
                "space": {
                    "lr": [1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2],
                    "batch_size": [16, 32, 64, 128],
                },
            },
            "track": {"tensorboard": False},
        }
    )


def trials_per_second(workers: int, runs: Path) -> float:
    start = time.perf_counter()
    study = run_local(_spec(f"w{workers}"), workers=workers, runs_dir=runs)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - start
    return len(study.records()) / elapsed


def writes_per_second(storage: optuna.storages.BaseStorage, n: int = 300) -> float:
    study = optuna.create_study(storage=storage, study_name=f"bench-{time.time_ns()}")
    trial = study.ask()
    start = time.perf_counter()
    for i in range(n):
        storage.set_trial_user_attr(trial._trial_id, f"k{i}", i)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--postgres", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "journal.log")
        backend = optuna.storages.journal.JournalFileBackend(path, lock_obj=FlockLock(path))
        print(f"journal writes/s: {writes_per_second(optuna.storages.JournalStorage(backend)):.0f}")
        if args.postgres:
            rdb = optuna.storages.RDBStorage(args.postgres)
            print(f"postgresql writes/s: {writes_per_second(rdb):.0f}")
        for w in args.workers:
            rate = trials_per_second(w, Path(tmp) / "runs")
            print(f"workers={w}: {rate:.2f} trials/s (24 trials, digits, 2 epochs)")


if __name__ == "__main__":
    main()
