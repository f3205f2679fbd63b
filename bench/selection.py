"""Honest selection on digits: plain selection vs cross-validation + confirmation.

For each study seed, runs ``examples/digits_tpe.toml`` twice, alternating:

- *plain*: the example as it is (one train/val split, the best trial by its
  validation score wins);
- *cv+confirm*: the same with ``data.cv = 5`` and ``search.confirm_top = 5``
  (each trial scored by 5-fold CV on train+val, then the top 5 configs
  re-trained on 2 x 5 fresh folds with fresh seeds; the best of those wins).

It reports the wall time of each ``sweeplab.run`` and the test accuracy of
the config each chose, two ways: the chosen trial's own models (plain: one
model trained on train; cv: the mean of its fold models), and the chosen
config re-trained on train+val with ``--final-seeds`` seeds by ``sweeplab
finalize``, the same protocol for both arms, so it measures the config.

    PYTHONPATH=src:. python -m bench.selection [--seeds 5] [--trials 40] [--epochs 30]

Results go to ``bench/results/selection-<device>.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

import sweeplab
from sweeplab.store import read_confirmation
from sweeplab.study._finalize import finalize

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "digits_tpe.toml"
ARMS = {
    "plain": [],
    "cv+confirm": ["data.cv=5", "search.confirm_top=5"],
}


def _run_arm(arm: str, seed: int, args: argparse.Namespace, runs: Path) -> dict[str, Any]:
    name = f"{arm.replace('+', '-')}-{seed}"
    overrides = [
        f'study.name="{name}"',
        f"study.seed={seed}",
        "track.tensorboard=false",
        f"search.trials={args.trials}",
        f"params.epochs={args.epochs}",
        *ARMS[arm],
    ]
    start = time.perf_counter()
    study = sweeplab.run(EXAMPLE, runs_dir=runs, overrides=overrides)
    wall = time.perf_counter() - start
    records = {r.number: r for r in study.records()}
    best = study.best()
    assert best is not None
    confirmation = read_confirmation(study.dir.confirmation)
    chosen = confirmation.winner if confirmation else best.number
    record = records[chosen]
    final = finalize(study.dir.root, trial=chosen, seeds=args.final_seeds)
    return {
        "arm": arm,
        "seed": seed,
        "wall_s": round(wall, 2),
        "chosen": chosen,
        "search_best": best.number,
        "changed": chosen != best.number,
        "chosen_val": record.objective,
        "chosen_test": (record.test or {}).get("accuracy"),
        "final_test": final.card["test"]["summary"]["accuracy"]["mean"],
        "confirm_s": json.loads(study.dir.confirmation.read_text())["seconds"]
        if confirmation
        else 0.0,
        "params": {
            k: record.params.get(k)
            for k in ("depth", "units1", "units2", "units3", "lr", "dropout", "batch_size")
        },
    }


def _mean_std(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.4f}" if values else "-"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def _table(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"# Honest selection on digits ({args.trials} TPE trials x {args.epochs} epochs, "
        f"{args.seeds} study seeds)",
        "",
        f"Device: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads. Both arms ran alternately in one process.",
        "",
        "| arm | wall s (mean ± std) | time vs plain | chosen trial's test acc | "
        "chosen config on train+val, test acc | winner changed by confirmation |",
        "|---|---|---|---|---|---|",
    ]
    plain_wall = statistics.mean(r["wall_s"] for r in rows if r["arm"] == "plain")
    for arm in ARMS:
        mine = [r for r in rows if r["arm"] == arm]
        wall = [r["wall_s"] for r in mine]
        changed = sum(r["changed"] for r in mine)
        lines.append(
            f"| {arm} | {_mean_std(wall)} | {statistics.mean(wall) / plain_wall:.2f}x | "
            f"{_mean_std([r['chosen_test'] for r in mine])} | "
            f"{_mean_std([r['final_test'] for r in mine])} | "
            f"{changed}/{len(mine) if arm != 'plain' else '-'} |"
        )
    lines += [
        "",
        "| seed | arm | chosen | val | test (own) | test (train+val) | wall s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['seed']} | {r['arm']} | {r['chosen']} | {r['chosen_val']:.4f} | "
            f"{r['chosen_test']:.4f} | {r['final_test']:.4f} | {r['wall_s']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--final-seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            for arm in ARMS:
                row = _run_arm(arm, seed, args, Path(tmp))
                rows.append(row)
                print(json.dumps(row), flush=True)
    text = _table(rows, args)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    (args.out / f"selection-{device}.md").write_text(text, encoding="utf-8")
    (args.out / f"selection-{device}.json").write_text(
        json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, indent=2),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
