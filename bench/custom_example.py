"""The custom-model example against the plain loop: ``examples/custom_model.toml``.

Issue #15's target: the custom-model example runs at >= 1.0x the plain loop.

Arm ``sweeplab`` runs ``python -m sweeplab run examples/custom_model.toml
--runs-dir TMP -q`` as one command in a fresh process (the factory
``examples/custom_model.py:residual_mlp``, trials of one structure trained as
vmapped groups); its wall time includes the interpreter start, data loading,
planning, training and every record written. The trials' sampled params and
test accuracies are read back from its records (``sweeplab.load_study``).

Arm ``loop`` trains exactly those configs (the records' params, so both arms
train identical configs) one after another the way a script does: the
factory's ``nn.Module`` (``torch.manual_seed`` then the factory), ``DataLoader
(TensorDataset, shuffle=True)``, ``torch.optim.Adam`` with the trial's lr and
weight decay, the same epochs and batch size, a validation pass per epoch, then
the test accuracy, on the study's own split and scaling (``load_study_data``).
Its wall time is the sum of its trials (data loading once, excluded).

The ratio is loop wall / sweeplab wall (> 1: sweeplab is faster). Results go to
``<out>.json`` and ``<out>.md``.

    python bench/custom_example.py                           # full example: ~1 min on 2 cores
    python bench/custom_example.py --set params.epochs=1 --set search.trials=4   # quick check
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from command import sweeplab_command, timed, write_results  # noqa: E402
from plain import evaluate  # noqa: E402

from engine import hardware  # noqa: E402
from sweeplab import load_study  # noqa: E402
from sweeplab.data import Dataset  # noqa: E402
from sweeplab.spec import StudySpec, load_callable, load_spec  # noqa: E402
from sweeplab.store import TrialRecord, read_provenance  # noqa: E402
from sweeplab.study import load_study_data  # noqa: E402

STUDY = ROOT / "examples" / "custom_model.toml"


def run_sweeplab(study: Path, overrides: Sequence[str], runs_dir: Path) -> dict[str, Any]:
    """``sweeplab run`` in a fresh process: its wall time and its complete records."""
    spec = load_spec(study, overrides)
    cmd = sweeplab_command("run", str(study), "--runs-dir", str(runs_dir), "-q")
    for o in overrides:
        cmd += ["--set", o]
    wall = timed(cmd)
    study_run = load_study(runs_dir / spec.study.name)
    fingerprint = read_provenance(study_run.dir.provenance)["data"]["fingerprint"]
    records = sorted(study_run.records(), key=lambda r: r.number)
    complete = [r for r in records if r.state == "complete"]
    if len(complete) != len(records):
        raise RuntimeError(f"sweeplab finished {len(complete)} of {len(records)} trials")
    groups: dict[str, float] = {}
    for r in complete:
        groups[r.group] = max(groups.get(r.group, 0.0), r.duration_s)
    return {
        "fingerprint": fingerprint,
        "wall_s": wall,
        "group_s": sum(groups.values()),
        "command": " ".join(cmd[1:]),
        "records": complete,
        "trials": [
            {
                "number": r.number,
                "group": r.group,
                "group_size": r.group_size,
                "duration_s": r.duration_s,
                "test_accuracy": (r.test or {}).get("accuracy", math.nan),
            }
            for r in complete
        ],
    }


def train_loop(factory: Any, config: dict[str, Any], ds: Dataset, seed: int) -> tuple[float, float]:
    """One trial the way a script trains it: its test accuracy and wall seconds."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    model = factory({**config, "n_features": ds.n_features, "n_classes": ds.n_classes})
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(ds.x_train, ds.y_train),
        batch_size=config["batch_size"],
        shuffle=True,
    )
    model.train()
    for _ in range(config["epochs"]):
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        evaluate(model, ds.x_val, ds.y_val)
    accuracy = evaluate(model, ds.x_test, ds.y_test)
    return accuracy, time.perf_counter() - start


def run_loop(
    spec: StudySpec, study: Path, records: Sequence[TrialRecord], ds: Dataset
) -> dict[str, Any]:
    """The plain loop over the configs sweeplab trained, one after another."""
    if spec.model.factory is None:
        raise ValueError(f"{study} must set [model] factory, but it has none")
    factory = load_callable(spec.model.factory, study.resolve().parent, "model.factory")
    rows = []
    for i, r in enumerate(records):
        if r.params.get("optimizer", "adam") != "adam":
            raise ValueError(f"trial {r.number} must use adam, but got {r.params['optimizer']}")
        accuracy, seconds = train_loop(factory, r.params, ds, spec.study.seed * 1_000 + i)
        rows.append({"number": r.number, "duration_s": seconds, "test_accuracy": accuracy})
        print(f"loop trial {r.number:3d} {seconds:7.2f}s acc {accuracy:.4f}", flush=True)
    return {"wall_s": sum(r["duration_s"] for r in rows), "trials": rows}


def markdown(results: dict[str, Any]) -> str:
    hw = results["hardware"]
    arms = results["arms"]
    lines = [
        "# Custom-model example benchmark",
        "",
        f"{hw['cpu']}, {hw['cores']} cores, torch {hw['torch']} "
        f"({results['loop_threads']} threads in the loop), Python {hw['python']}, "
        f"{results['date']}.",
        f"Study: `{results['study']}` {' '.join(results['overrides'])}; "
        f"{results['n_trials']} trials, {results['n_train']} train rows.",
        "",
        "`sweeplab`: the whole `sweeplab run` command in a fresh process (start-up, data, "
        "records included; `groups s` is the sum of its groups' training times). `loop`: the "
        "factory's module + DataLoader + torch.optim.Adam over the same configs, one after "
        "another, data loading excluded. Both in the same run.",
        "",
        "| arm | wall s | groups s | mean test accuracy |",
        "|---|---:|---:|---:|",
    ]
    for name, arm in arms.items():
        groups = f"{arm['group_s']:.1f}" if "group_s" in arm else ""
        lines.append(f"| {name} | {arm['wall_s']:.1f} | {groups} | {arm['mean_accuracy']:.4f} |")
    lines += [
        "",
        f"Speedup (loop wall / sweeplab wall): **{results['ratio']:.2f}x**; "
        f"mean per-trial test accuracy difference (sweeplab - loop): "
        f"{results['accuracy_difference']:+.4f}.",
        "",
        "| trial | group size | sweeplab acc | loop s | loop acc |",
        "|---:|---:|---:|---:|---:|",
    ]
    loop = {t["number"]: t for t in arms["loop"]["trials"]}
    for t in arms["sweeplab"]["trials"]:
        lt = loop[t["number"]]
        lines.append(
            f"| {t['number']} | {t['group_size']} | {t['test_accuracy']:.4f} | "
            f"{lt['duration_s']:.2f} | {lt['test_accuracy']:.4f} |"
        )
    return "\n".join([*lines, ""])


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--study", type=Path, default=STUDY)
    ap.add_argument("--set", action="append", default=[], dest="overrides", help="key=value")
    ap.add_argument("--threads", type=int, default=0, help="loop's torch threads (0: default)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "custom-cpu")
    args = ap.parse_args(argv)

    spec = load_spec(args.study, args.overrides)
    ds = load_study_data(spec)
    runs_dir = Path(tempfile.mkdtemp(prefix="sweeplab-custom-"))
    try:
        fused = run_sweeplab(args.study, args.overrides, runs_dir)
    finally:
        shutil.rmtree(runs_dir, ignore_errors=True)
    records = fused.pop("records")
    if fused["fingerprint"] != ds.fingerprint:
        raise RuntimeError("the loop's data must be the rows sweeplab trained on, but differ")
    print(f"sweeplab {fused['wall_s']:.1f}s ({fused['group_s']:.1f}s in groups)", flush=True)
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        loop_threads = torch.get_num_threads()
        loop = run_loop(spec, args.study, records, ds)
    finally:
        torch.set_num_threads(threads)
    print(f"loop {loop['wall_s']:.1f}s", flush=True)
    for arm in (fused, loop):
        arm["mean_accuracy"] = statistics.fmean(t["test_accuracy"] for t in arm["trials"])
    diffs = [
        a["test_accuracy"] - b["test_accuracy"]
        for a, b in zip(fused["trials"], loop["trials"], strict=True)
    ]
    results: dict[str, Any] = {
        "hardware": hardware(torch.device("cpu")),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "study": str(args.study.resolve().relative_to(ROOT))
        if args.study.resolve().is_relative_to(ROOT)
        else str(args.study),
        "overrides": list(args.overrides),
        "n_trials": len(records),
        "n_train": ds.n_train,
        "loop_threads": loop_threads,
        "arms": {"sweeplab": fused, "loop": loop},
        "ratio": loop["wall_s"] / fused["wall_s"],
        "accuracy_difference": statistics.fmean(diffs),
    }
    print(
        f"speedup {results['ratio']:.2f}x; mean test accuracy sweeplab "
        f"{fused['mean_accuracy']:.4f} loop {loop['mean_accuracy']:.4f}",
        flush=True,
    )
    write_results(args.out, results, markdown(results))
    return results


if __name__ == "__main__":
    main()
