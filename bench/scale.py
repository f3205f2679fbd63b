"""Scale measurements: big studies (issue 16) and scale-out (docs/scaling.md).

Usage:
  python bench/scale.py big [--trials 1000 10000] [--out bench/results/scale-cpu]
  python bench/scale.py workers [--workers 1 2 4] [--postgres URL]

``big`` runs the issue's table: a random search of 1-epoch Iris trials (depth 1,
units in [4, 8, 16], lr log-uniform, tensorboard off) at each size, side by side
with plain Optuna on a journal file (same RandomSampler, same two suggestions,
a trivial objective) in the same run; then ``status``, ``report`` (with its peak
memory) and ``export --format parquet`` of that study, each a fresh
``python -m sweeplab`` process; ``sweeplab --help``; and the 12-config Iris
grid from a cold ``sweeplab run`` against ``bench/plain_grid.py``, the plain
torch + scikit-learn script. It writes ``<out>.json`` and ``<out>.md``.

``workers`` prints trials/s of a small grid study with 1, 2 and 4 local
workers, and the storage write rate (set_trial_user_attr calls/s) of the
journal file and, with --postgres, of PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

sys.path.insert(0, str(Path(__file__).resolve().parent))

from command import user_env

from sweeplab.backends import run_local
from sweeplab.spec import spec_from_dict
from sweeplab.store import FlockLock


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


def workers_main(args: argparse.Namespace) -> None:
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


# ---- big studies (issue 16) -------------------------------------------------------

BENCH = Path(__file__).resolve().parent

RANDOM = """[study]
name = "{name}"
seed = 1
device = "cpu"
[data]
dataset = "iris"
[params]
depth = 1
epochs = 1
[search]
strategy = "random"
trials = {trials}
[search.space]
units = [4, 8, 16]
lr = {{ low = 1e-4, high = 1e-1, log = true }}
[track]
tensorboard = false
"""

GRID = """[study]
name = "grid12"
seed = 1
device = "cpu"
[data]
dataset = "iris"
[params]
depth = 1
units = 16
[search]
strategy = "grid"
[search.space]
batch_size = [2, 4]
lr = [1e-3, 1e-5]
epochs = [1, 3, 5]
[track]
tensorboard = false
"""


def child(args: list[str], cwd: Path) -> tuple[float, float]:
    """Run ``args`` in a fresh process: its wall seconds and peak resident memory (MB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        args, cwd=cwd, env=user_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{args} failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return wall, usage.ru_maxrss / 1024


def median_child(args: list[str], cwd: Path, repeats: int = 3) -> float:
    return statistics.median(child(args, cwd)[0] for _ in range(repeats))


def run_sweeplab(n: int, work: Path) -> dict[str, float]:
    """The random search through ``sweeplab.run`` in this process (imports done before)."""
    import sweeplab.study  # torch and the loop are imported before the clock starts

    path = work / f"random{n}.toml"
    path.write_text(RANDOM.format(name=f"random{n}", trials=n))
    start = time.perf_counter()
    sweeplab.run(path, runs_dir=work / "runs")
    elapsed = time.perf_counter() - start
    return {"run_s": elapsed, "per_trial_s": elapsed / n}


def run_optuna(n: int, work: Path) -> dict[str, float]:
    """Plain Optuna: journal file, RandomSampler, the same two suggestions, trivial objective."""
    journal = optuna.storages.journal.JournalFileBackend(str(work / f"optuna{n}.log"))
    study = optuna.create_study(
        storage=optuna.storages.JournalStorage(journal),
        sampler=optuna.samplers.RandomSampler(seed=1),
        direction="maximize",
    )

    def objective(trial: optuna.Trial) -> float:
        units = trial.suggest_categorical("units", [4, 8, 16])
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        return units * lr

    start = time.perf_counter()
    study.optimize(objective, n_trials=n)
    elapsed = time.perf_counter() - start
    return {"run_s": elapsed, "per_trial_s": elapsed / n}


def reads(n: int, work: Path) -> dict[str, float]:
    """``status``, ``report`` (and its peak memory) and ``export`` of the study, fresh processes."""
    root = str(work / "runs" / f"random{n}")
    cli = [sys.executable, "-m", "sweeplab"]
    report_s, report_mb = child([*cli, "report", root], work)
    return {
        "status_s": median_child([*cli, "status", root], work),
        "report_s": report_s,
        "report_peak_mb": report_mb,
        "export_s": median_child(
            [*cli, "export", root, "-f", "parquet", "-o", str(work / "s.parquet")], work
        ),
    }


def startup(work: Path) -> dict[str, float]:
    """``sweeplab --help``, and the 12-config grid: cold ``sweeplab run`` vs the plain script."""
    (work / "grid12.toml").write_text(GRID)
    cli = [sys.executable, "-m", "sweeplab"]
    help_s = median_child([*cli, "--help"], work, repeats=5)
    grid, plain = [], []
    for i in range(5):  # a cold run's torch import alone moves by 0.3 s between runs
        grid.append(child([*cli, "run", "grid12.toml", "-q", "--runs-dir", f"g{i}"], work)[0])
        plain.append(child([sys.executable, str(BENCH / "plain_grid.py")], work)[0])
    return {
        "help_s": help_s,
        "grid_sweeplab_s": statistics.median(grid),
        "grid_plain_s": statistics.median(plain),
    }


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f}/{five:.2f}"


def big_main(args: argparse.Namespace) -> None:
    result: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load_before": _load(),
        "sizes": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        result["startup"] = startup(work)
        for n in args.trials:
            row = {"sweeplab": run_sweeplab(n, work), "optuna": run_optuna(n, work)}
            row["reads"] = reads(n, work)
            result["sizes"][str(n)] = row
            print(json.dumps({n: row}), flush=True)
    result["load_after"] = _load()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(table(result))
    print(table(result))


def table(result: dict[str, Any]) -> str:
    """The issue's table, with plain Optuna's per-trial cost and the ratio next to it."""
    lines = [
        "| trials | `run` | per trial | plain Optuna journal, per trial | ratio | `status` "
        "| `report` | report peak memory | `export` (parquet) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    ms: Callable[[float], str] = lambda s: f"{s * 1000:.1f} ms"  # noqa: E731
    for n, row in result["sizes"].items():
        sw, op, rd = row["sweeplab"], row["optuna"], row["reads"]
        lines.append(
            f"| {int(n):,} | {sw['run_s']:.1f} s | {ms(sw['per_trial_s'])} | "
            f"{ms(op['per_trial_s'])} | {sw['per_trial_s'] / op['per_trial_s']:.2f}x | "
            f"{rd['status_s']:.2f} s | "
            f"{rd['report_s']:.1f} s | {rd['report_peak_mb']:.0f} MB | {rd['export_s']:.2f} s |"
        )
    st = result["startup"]
    lines += [
        "",
        f"- `sweeplab --help`: {st['help_s']:.2f} s (median of 5 fresh processes)",
        f"- 12-config Iris grid, cold `sweeplab run`: {st['grid_sweeplab_s']:.2f} s; plain "
        f"torch + scikit-learn script (`bench/plain_grid.py`): {st['grid_plain_s']:.2f} s "
        f"(ratio {st['grid_sweeplab_s'] / st['grid_plain_s']:.2f}; medians of 5)",
        f"- {result['machine']}; load average (1/5 min) {result['load_before']} before, "
        f"{result['load_after']} after: shared with other jobs, so noisy",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    big = sub.add_parser("big", help="the big-study table of issue 16")
    big.add_argument("--trials", type=int, nargs="*", default=[1000, 10000])
    big.add_argument("--out", default=str(BENCH / "results" / "scale-cpu"))
    workers = sub.add_parser("workers", help="local workers and storage write rates")
    workers.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4])
    workers.add_argument("--postgres", default=None)
    args = parser.parse_args()
    big_main(args) if args.what == "big" else workers_main(args)


if __name__ == "__main__":
    main()
