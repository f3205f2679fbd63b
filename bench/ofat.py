"""Headline benchmark: ``sweeplab run`` of a whole study against the plain loop.

Arm ``sweeplab`` runs ``python -m sweeplab run STUDY --runs-dir TMP -q`` as one
command in a fresh process: its wall time includes the interpreter start, the
data loading, planning, training and every record the study writes. Per-trial
test accuracies and the engine's per-trial durations come from the study's
``trials/*/record.json``.

Arm ``loop`` trains the same trial list (``sweeplab.search.design_points`` of
the study, the same rows, split and scaling) one trial after another with
``DataLoader(TensorDataset, shuffle=True)`` + ``nn.Sequential`` + ``torch.optim``
(bench/plain.py) at torch's default thread count, each scored on the same test
split (the official 10,000 Fashion-MNIST test images). Its wall time is the
sum of its trials (data loading once, excluded; it is in the sweeplab arm).

Both arms run in this one invocation, back to back, and the results go to
``bench/results/ofat-<device>.md`` and ``.json`` with hardware and versions.

    python bench/ofat.py          # full study, 2-core Xeon: loop ~7 min + sweeplab ~3-4 min
    python bench/ofat.py --trials 3 --set params.epochs=1   # quick check
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from command import sweeplab_command, timed, write_results  # noqa: E402
from plain import train_plain  # noqa: E402

from engine import hardware  # noqa: E402
from sweeplab.data import Dataset  # noqa: E402
from sweeplab.search import design_points  # noqa: E402
from sweeplab.spec import StudySpec, TrainParams, load_spec  # noqa: E402
from sweeplab.study import load_study_data  # noqa: E402

DEFAULT_STUDY = ROOT / "examples" / "fashion_mnist_ofat.toml"


def trial_list(spec: StudySpec, limit: int | None) -> list[tuple[str, TrainParams]]:
    """The study's planned trials in run order as ``(label, params)``, the first ``limit``."""
    points = design_points(spec)
    if spec.search.trials:
        points = points[: spec.search.trials]
    if limit is not None:
        points = points[:limit]
    base = spec.params.model_dump()
    return [(p.label, TrainParams.model_validate({**base, **p.params})) for p in points]


def run_sweeplab(
    study: Path, overrides: Sequence[str], limit: int | None, device: str, runs_dir: Path
) -> dict[str, Any]:
    """``sweeplab run`` in a subprocess: wall time and the per-trial records."""
    spec = load_spec(study, overrides)
    cmd = sweeplab_command("run", str(study), "--runs-dir", str(runs_dir), "-q")
    for o in overrides:
        cmd += ["--set", o]
    if limit is not None:
        cmd += ["--set", f"search.trials={limit}"]
    if device:
        cmd += ["--device", device]
    wall = timed(cmd)
    records = []
    for path in sorted((runs_dir / spec.study.name / "trials").glob("*/record.json")):
        r = json.loads(path.read_text())
        records.append(
            {
                "number": r["number"],
                "label": r.get("label"),
                "state": r["state"],
                "epochs": r["epochs_trained"],
                "duration_s": r["duration_s"],
                "group": r.get("group"),
                "group_size": r.get("group_size"),
                "threads": r.get("threads"),
                "lanes": r.get("lanes"),
                "test_accuracy": (r.get("test") or {}).get("accuracy", math.nan),
            }
        )
    records.sort(key=lambda r: r["number"])
    provenance = json.loads((runs_dir / spec.study.name / "provenance.json").read_text())
    return {
        "wall_s": wall,
        "trials": records,
        "command": " ".join(cmd[1:]),
        "calibration": provenance.get("calibration"),
    }


def run_loop(
    trials: Sequence[tuple[str, TrainParams]], ds: Dataset, device: torch.device
) -> dict[str, Any]:
    """The plain loop over ``trials``, one after another."""
    splits = (ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.x_test, ds.y_test)
    tensors = [t.to(device) for t in splits]
    rows = []
    for i, (label, p) in enumerate(trials):
        accuracy, seconds = train_plain(p, ds, device, i, tensors=tensors)
        rows.append(
            {
                "number": i,
                "label": label,
                "epochs": p.epochs,
                "duration_s": seconds,
                "test_accuracy": accuracy,
            }
        )
        print(f"loop trial {i:3d} {label:12s} {seconds:8.2f}s acc {accuracy:.4f}", flush=True)
    return {"wall_s": sum(r["duration_s"] for r in rows), "trials": rows}


def _describe(p: TrainParams) -> str:
    units = "-".join(str(u) for u in p.layer_units())
    return f"{units} {p.optimizer} lr {p.lr:g} batch {p.batch_size} {p.epochs} ep"


def markdown(results: dict[str, Any]) -> str:
    hw = results["hardware"]
    arms = results["arms"]
    lines = [
        f"# OFAT study benchmark ({hw['device']})",
        "",
        f"{hw['cpu']}, {hw['cores']} cores, torch {hw['torch']} "
        f"({hw['torch_threads']} threads)"
        + (f", {hw['gpu']} (CUDA {hw['cuda']})" if "gpu" in hw else "")
        + f", Python {hw['python']}, {results['date']}.",
        f"Study: `{results['study']}` {' '.join(results['overrides'])}; "
        f"{results['n_trials']} trials, {results['n_train']} train rows, "
        f"{results['n_test']} test rows.",
        "",
        "`sweeplab`: the whole `sweeplab run` command in a fresh process (start-up, data, "
        "records included). `loop`: DataLoader + nn.Sequential + torch.optim, one trial "
        "after another, data loading excluded. Both in the same run.",
        "",
        "| arm | wall s | mean test accuracy |",
        "|---|---:|---:|",
    ]
    for name, arm in arms.items():
        accs = [t["test_accuracy"] for t in arm["trials"]]
        mean = sum(accs) / len(accs) if accs else math.nan
        lines.append(f"| {name} | {arm['wall_s']:.1f} | {mean:.4f} |")
    if "ratio" in results:
        lines += ["", f"Speedup (loop wall / sweeplab wall): **{results['ratio']:.2f}x**"]
    if "ratio_bf16" in results:
        lines += [
            "",
            f'Extra row, `study.dtype = "bfloat16"` (bf16 products, float32 master weights): '
            f"**{results['ratio_bf16']:.2f}x**",
        ]
    lines += [
        "",
        "| # | trial | loop s | loop acc | sweeplab s (group) | group size | lane | sweeplab acc |",
        "|---:|---|---:|---:|---:|---:|---|---:|",
    ]
    loop = {t["number"]: t for t in arms.get("loop", {}).get("trials", [])}
    fused = {t["number"]: t for t in arms.get("sweeplab", {}).get("trials", [])}
    for i, desc in enumerate(results["trial_configs"]):
        a, b = loop.get(i, {}), fused.get(i, {})
        lines.append(
            f"| {i} | {desc} | {a.get('duration_s', math.nan):.1f} | "
            f"{a.get('test_accuracy', math.nan):.4f} | {b.get('duration_s', math.nan):.1f} | "
            f"{b.get('group_size', '')} | {'yes' if b.get('lanes') else 'no'} | "
            f"{b.get('test_accuracy', math.nan):.4f} |"
        )
    lines += [
        "",
        "A grouped trial's sweeplab seconds are its group's time until it ended; "
        "a group in a lane trained beside another (one thread each), so its seconds overlap.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--study", type=Path, default=DEFAULT_STUDY)
    ap.add_argument("--set", action="append", default=[], dest="overrides", help="key=value")
    ap.add_argument("--trials", type=int, default=None, help="only the first N trials per arm")
    ap.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N (both arms)")
    ap.add_argument("--skip-sweeplab", action="store_true")
    ap.add_argument("--skip-loop", action="store_true")
    ap.add_argument(
        "--bf16", action="store_true", help="also run sweeplab with study.dtype = bfloat16"
    )
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--tag", default="", help="suffix of the result file names")
    args = ap.parse_args(argv)

    spec = load_spec(args.study, [*args.overrides, "track.tensorboard=false"])
    trials = trial_list(spec, args.trials)
    device = torch.device(args.device)
    results: dict[str, Any] = {
        "hardware": hardware(device),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "study": str(args.study.resolve().relative_to(ROOT))
        if args.study.resolve().is_relative_to(ROOT)
        else str(args.study),
        "overrides": list(args.overrides)
        + ([f"search.trials={args.trials}"] if args.trials else []),
        "n_trials": len(trials),
        "trial_configs": [_describe(p) for _, p in trials],
        "arms": {},
    }
    ds = load_study_data(spec)
    results["n_train"], results["n_test"] = ds.n_train, int(ds.x_test.shape[0])
    if not args.skip_sweeplab:
        runs_dir = Path(tempfile.mkdtemp(prefix="sweeplab-ofat-"))
        try:
            overrides = [*args.overrides, "track.tensorboard=false"]
            arm = run_sweeplab(args.study, overrides, args.trials, args.device, runs_dir)
        finally:
            shutil.rmtree(runs_dir, ignore_errors=True)
        if len(arm["trials"]) != len(trials):
            raise RuntimeError(f"sweeplab wrote {len(arm['trials'])} records for {len(trials)}")
        results["arms"]["sweeplab"] = arm
        print(f"sweeplab {arm['wall_s']:.1f}s", flush=True)
    if args.bf16:
        runs_dir = Path(tempfile.mkdtemp(prefix="sweeplab-ofat-"))
        try:
            overrides = [*args.overrides, "track.tensorboard=false", 'study.dtype="bfloat16"']
            arm = run_sweeplab(args.study, overrides, args.trials, args.device, runs_dir)
        finally:
            shutil.rmtree(runs_dir, ignore_errors=True)
        results["arms"]["sweeplab-bf16"] = arm
        print(f"sweeplab-bf16 {arm['wall_s']:.1f}s", flush=True)
    if not args.skip_loop:
        results["arms"]["loop"] = run_loop(trials, ds, device)
        print(f"loop {results['arms']['loop']['wall_s']:.1f}s", flush=True)
    if "sweeplab" in results["arms"] and "loop" in results["arms"]:
        results["ratio"] = results["arms"]["loop"]["wall_s"] / results["arms"]["sweeplab"]["wall_s"]
        print(f"speedup {results['ratio']:.2f}x", flush=True)
    if "sweeplab-bf16" in results["arms"] and "loop" in results["arms"]:
        loop_s = results["arms"]["loop"]["wall_s"]
        results["ratio_bf16"] = loop_s / results["arms"]["sweeplab-bf16"]["wall_s"]
        print(f"speedup bf16 {results['ratio_bf16']:.2f}x", flush=True)
    stem = f"ofat-{device.type}{'-' + args.tag if args.tag else ''}"
    write_results(args.out / stem, results, markdown(results))
    return results


if __name__ == "__main__":
    main()
