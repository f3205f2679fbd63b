"""A bounded load run: 8 worker processes on one study of trivial trials, on a journal
and on PostgreSQL; throughput and the audit (no trial recorded twice, storage = records).

Not part of ``make test``. The trials are Optuna's quadratic (no training), so
this measures sweeplab's per-trial bookkeeping: asking under the claim lock,
the record, the storage writes, the summary.

    python bench/load.py --trials 2000         # minutes on 2 busy cores
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import optuna

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.postgres import postgres_server  # noqa: E402


def load(base: Path, trials: int, storage: str = "", workers: int = 8) -> str:
    """``workers`` processes on one study of ``trials`` trivial objective trials: one row.

    Throughput in trials per second of wall time, and the audit: every trial
    number has one record, and the storage's finished trials are exactly those.
    """
    where = base / f"load-{'pg' if storage else 'journal'}"
    where.mkdir()
    (where / "quad.py").write_text(
        "def objective(trial):\n    return (trial.suggest_float('x', -10, 10) - 2) ** 2\n"
    )
    sets = [f"search.trials={trials}", "track.tensorboard=false"]
    sets += [f'study.storage="{storage}"'] if storage else []
    command = [sys.executable, "-m", "sweeplab", "run", "--objective", "quad.py:objective"]
    command += ["--workers", str(workers), "-q"] + [a for s in sets for a in ("--set", s)]
    start = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=where,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    root = where / "runs" / "quad"
    numbers = [json.loads(p.read_text())["number"] for p in root.glob("trials/*/record.json")]
    backend: optuna.storages.BaseStorage = (
        optuna.storages.RDBStorage(storage)
        if storage
        else optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(root / "optuna.log"))
        )
    )
    stored = optuna.load_study(study_name="quad", storage=backend).get_trials()
    complete = sorted(t.number for t in stored if t.state.name == "COMPLETE")
    return (
        f"| {'PostgreSQL' if storage else 'journal'} | {workers} | {trials} | {done.returncode} | "
        f"{len(set(numbers))} | {len(numbers) - len(set(numbers))} | "
        f"{'yes' if complete == sorted(numbers) else 'NO'} | "
        f"{'yes' if 'Traceback' in done.stderr else 'no'} | {wall:.1f} | {trials / wall:.1f} |"
    )


LOAD_HEAD = (
    "| storage | workers | trials | exit | recorded | duplicated | storage = records |"
    " traceback | wall s | trials/s |\n|---|---|---|---|---|---|---|---|---|---|"
)


def main(argv: Sequence[str] | None = None) -> list[str]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=8)
    args = ap.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="sweeplab-load-"))
    rows = [load(base, args.trials, workers=args.workers)]
    print(LOAD_HEAD)
    print(rows[0], flush=True)
    with postgres_server() as server:
        rows.append(load(base, args.trials, server.url, workers=args.workers))
    print(rows[1], flush=True)
    shutil.rmtree(base, ignore_errors=True)
    return rows


if __name__ == "__main__":
    main()
