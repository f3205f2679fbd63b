"""Per-group speed of a study: each planned group trained fused against its
members one by one with the plain loop, in the same process, back to back.

A short stand-in for bench/ofat.py that a busy machine can afford: the
study's trials are planned into groups as ``sweeplab run`` plans them
(``plan_groups``), every member trains ``--epochs`` epochs on the first
``--rows`` training rows, and both arms use ``--threads`` threads. Times are
of training and scoring only (data loaded once). Prints one line per group
and writes ``bench/results/groups-cpu.md`` and ``.json``.

    python bench/groups.py --rows 13000 --threads 1            # ~2-4 min on 2 cores
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ofat import DEFAULT_STUDY, trial_list  # noqa: E402
from plain import train_plain  # noqa: E402

from engine import hardware  # noqa: E402
from sweeplab.engine import GroupData, plan_groups, train_group  # noqa: E402
from sweeplab.spec import TrainParams, load_spec  # noqa: E402
from sweeplab.study import load_study_data, member_spec  # noqa: E402


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--study", type=Path, default=DEFAULT_STUDY)
    ap.add_argument("--set", action="append", default=[], dest="overrides", help="key=value")
    ap.add_argument("--rows", type=int, default=0, help="training rows (0: all)")
    ap.add_argument("--epochs", type=int, default=1, help="epochs of every member")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--groups", default="", help="comma-separated group indices (default all)")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    spec = load_spec(args.study, args.overrides)
    trials = [
        (label, TrainParams.model_validate({**p.model_dump(), "epochs": args.epochs}))
        for label, p in trial_list(spec, None)
    ]
    ds = load_study_data(spec)
    if args.rows:
        ds = dataclasses.replace(
            ds, x_train=ds.x_train[: args.rows], y_train=ds.y_train[: args.rows]
        )
    members = [member_spec(p, i) for i, (_, p) in enumerate(trials)]
    cpu = torch.device("cpu")
    groups = plan_groups(members, ds.n_features, ds.n_classes, cpu)
    chosen = [int(g) for g in args.groups.split(",") if g] or list(range(len(groups)))
    splits = [ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.x_test, ds.y_test]
    data = GroupData.from_tensors(splits, ds.n_classes)
    tensors = [t.to(cpu) for t in splits]
    rows: list[dict[str, Any]] = []
    for g in chosen:
        group = groups[g]
        start = time.perf_counter()
        results = train_group([members[i] for i in group], data)
        fused = time.perf_counter() - start
        loop = sum(train_plain(trials[i][1], ds, cpu, i, tensors=tensors)[1] for i in group)
        p = trials[group[0]][1]
        row = {
            "group": g,
            "trials": group,
            "size": len(group),
            "shape": "-".join(str(u) for u in p.layer_units()),
            "batch_size": p.batch_size,
            "optimizer": p.optimizer,
            "threads": results[0].threads,
            "fused_s": fused,
            "loop_s": loop,
            "speedup": loop / fused if fused > 0 else float("nan"),
        }
        rows.append(row)
        print(
            f"group {g:2d} K={len(group)} {row['shape']:>12s} batch {p.batch_size:3d} "
            f"{p.optimizer:8s} fused {fused:7.2f}s loop {loop:7.2f}s "
            f"{row['speedup']:5.2f}x (threads {row['threads']})",
            flush=True,
        )
    total_fused = sum(r["fused_s"] for r in rows)
    total_loop = sum(r["loop_s"] for r in rows)
    results_out = {
        "hardware": hardware(cpu),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "settings": f"--rows {args.rows} --epochs {args.epochs} --threads {args.threads}",
        "groups": rows,
        "fused_s": total_fused,
        "loop_s": total_loop,
        "speedup": total_loop / total_fused if total_fused > 0 else float("nan"),
    }
    lines = [
        "# Per-group speed (cpu)",
        "",
        f"{results_out['hardware']['cpu']}, torch {results_out['hardware']['torch']}, "
        f"{results_out['date']}; {results_out['settings']}.",
        "",
        "| group | K | shape | batch | optimizer | threads | fused s | loop s | speedup |",
        "|---:|---:|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['group']} | {r['size']} | {r['shape']} | {r['batch_size']} | "
            f"{r['optimizer']} | {r['threads']} | {r['fused_s']:.2f} | {r['loop_s']:.2f} | "
            f"{r['speedup']:.2f}x |"
        )
    lines += [
        "",
        f"Total: fused {total_fused:.1f}s, loop {total_loop:.1f}s, {results_out['speedup']:.2f}x.",
        "",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "groups-cpu.json").write_text(json.dumps(results_out, indent=2) + "\n")
    (args.out / "groups-cpu.md").write_text("\n".join(lines))
    return results_out


if __name__ == "__main__":
    main()
