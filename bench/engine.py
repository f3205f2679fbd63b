"""Engine benchmark: sweeplab against the training loops people usually write.

Every workload is a fixed list of trial configurations on one dataset, and
four methods train that same list in the same process, one after another:

  a. ``loop``         DataLoader(TensorDataset, shuffle=True) + nn.Sequential +
                      torch.optim, one trial after another (the common script);
  b. ``loop-tensor``  the same loop over tensors on the device with index batches;
  c. ``sweeplab-1``   ``sweeplab.run`` with ``search.group_size = 1``;
  d. ``sweeplab``     ``sweeplab.run`` fused (the default group sizes).

For each: wall time of the training (data loading excluded; for sweeplab the
whole study loop including its stored records), trials x epochs per second,
the speedup over (a) and the mean final test accuracy. Results go to
``bench/results/engine-<device>.md`` and ``.json`` with hardware and versions.

    python bench/engine.py                        # the `make bench` defaults (CPU-feasible)
    python bench/engine.py --samples 60000 --epochs 10 --trials 128 --device cuda   # full size
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import synthetic  # noqa: E402
from plain import sync as _sync  # noqa: E402
from plain import train_plain  # noqa: E402

import sweeplab  # noqa: E402
from sweeplab.data import Dataset, load_dataset  # noqa: E402
from sweeplab.search import design_points  # noqa: E402
from sweeplab.search._space import suggest  # noqa: E402
from sweeplab.spec import StudySpec, TrainParams, load_spec, spec_from_dict  # noqa: E402
from sweeplab.study import RunEvent, resolve_device  # noqa: E402

METHODS = ("loop", "loop-tensor", "sweeplab-1", "sweeplab")
WORKLOADS = ("fmnist", "ofat", "iris", "digits")
SYNTHETIC = "synthetic:fmnist_shaped"


@dataclass
class Workload:
    """A study whose trials every method trains: the spec and its trial configs."""

    name: str
    spec: StudySpec
    configs: list[TrainParams]
    note: str
    dataset: Dataset | None = None


@dataclass
class Outcome:
    method: str
    wall_s: float
    trial_epochs: int
    accuracies: list[float] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.trial_epochs / self.wall_s if self.wall_s > 0 else math.inf

    @property
    def accuracy(self) -> float:
        return statistics.fmean(self.accuracies) if self.accuracies else math.nan


# ---- workloads ---------------------------------------------------------------------


def _explicit(raw: dict[str, Any], configs: Sequence[dict[str, Any]]) -> StudySpec:
    """A study of exactly ``configs`` (random strategy, budget = the configs)."""
    raw = json.loads(json.dumps(raw))
    raw["search"] = {"strategy": "random", "trials": len(configs), "configs": list(configs)}
    return spec_from_dict(raw)


def _params(spec: StudySpec, overrides: dict[str, Any]) -> TrainParams:
    return TrainParams.model_validate({**spec.params.model_dump(), **overrides})


def fmnist_workload(trials: int, epochs: int) -> Workload:
    lrs = np.geomspace(1e-4, 1e-2, trials) if trials > 1 else np.array([1e-3])
    raw = {
        "study": {"name": "bench-fmnist", "seed": 0},
        "data": {"dataset": SYNTHETIC, "split": [0.7, 0.1, 0.2], "scale": "none"},
        "params": {
            "depth": 2,
            "units": 256,
            "optimizer": "adam",
            "batch_size": 64,
            "epochs": epochs,
        },
        "track": {"tensorboard": False},
    }
    spec = _explicit(raw, [{"lr": float(lr)} for lr in lrs])
    configs = [_params(spec, dict(c)) for c in spec.search.configs]
    note = f"784-256-256-10 Adam, batch 64, {epochs} epochs, {trials} lrs log-uniform 1e-4..1e-2"
    return Workload("fmnist", spec, configs, note)


def _example(path: str, name: str, overrides: Sequence[str]) -> StudySpec:
    spec = load_spec(ROOT / "examples" / path, [*overrides, "track.tensorboard=false"])
    raw = spec.model_dump(mode="json", exclude_none=True)
    raw["study"]["name"] = name
    return spec_from_dict(raw)


def ofat_workload() -> Workload:
    spec = _example(
        "fashion_mnist_ofat.toml",
        "bench-ofat",
        [f'data.dataset="{SYNTHETIC}"', "data.split=[0.7, 0.1, 0.2]"],
    )
    configs = [_params(spec, p.params) for p in design_points(spec)]
    note = f"examples/fashion_mnist_ofat.toml: {len(configs)} design points, synthetic data"
    return Workload("ofat", spec, configs, note)


def iris_workload() -> Workload:
    spec = _example("iris.toml", "bench-iris", [])
    configs = [_params(spec, p.params) for p in design_points(spec)]
    return Workload("iris", spec, configs, f"examples/iris.toml: {len(configs)} seeds")


def digits_workload(trials: int) -> Workload:
    """The digits TPE space, ``trials`` configs drawn at random once.

    TPE's choices depend on the results, so every method replays one fixed list.
    """
    base = _example("digits_tpe.toml", "bench-digits", [])
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    chosen = []
    for _ in range(trials):
        trial = study.ask()
        chosen.append(suggest(trial, base.search.space, base.params))
    spec = _explicit(base.model_dump(mode="json", exclude_none=True), chosen)
    configs = [_params(spec, c) for c in chosen]
    note = f"examples/digits_tpe.toml space: {trials} configs sampled at random"
    return Workload("digits", spec, configs, note)


def load_workload_data(w: Workload) -> Dataset:
    d = w.spec.data
    return load_dataset(
        d.dataset,
        split=(d.split[0], d.split[1], d.split[2]),
        scale=d.scale,
        seed=w.spec.study.seed,
        max_samples=d.max_samples,
        cache_dir=d.cache_dir,
    )


# ---- baselines (a) and (b) ---------------------------------------------------------


def run_loop(w: Workload, ds: Dataset, device: torch.device, on_device: bool) -> Outcome:
    """Baseline (a) (``on_device=False``) or (b): one trial after another."""
    outcome = Outcome("loop-tensor" if on_device else "loop", 0.0, 0)
    splits = (ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.x_test, ds.y_test)
    tensors = [t.to(device) for t in splits]
    for i, p in enumerate(w.configs):
        accuracy, seconds = train_plain(p, ds, device, i, on_device, tensors)
        outcome.accuracies.append(accuracy)
        outcome.trial_epochs += p.epochs
        outcome.wall_s += seconds
    return outcome


# ---- sweeplab (c) and (d) ----------------------------------------------------------


def run_sweeplab(w: Workload, device: str, fused: bool, runs_dir: Path) -> Outcome:
    method = "sweeplab" if fused else "sweeplab-1"
    name = f"{w.spec.study.name}-{method}"
    over = [f'study.name="{name}"', f'study.device="{device}"']
    if not fused:
        over.append("search.group_size=1")
    spec = spec_from_dict(w.spec.model_dump(mode="json", exclude_none=True), over)
    marks: dict[str, float] = {}

    def callback(event: RunEvent) -> None:
        if event.kind in ("start", "end"):
            _sync(resolve_device(device))
            marks[event.kind] = time.perf_counter()

    shutil.rmtree(runs_dir / name, ignore_errors=True)
    study = sweeplab.run(spec, runs_dir=runs_dir, callback=callback)
    records = study.records()
    shutil.rmtree(runs_dir / name, ignore_errors=True)
    outcome = Outcome(method, marks["end"] - marks["start"], 0)
    for r in records:
        outcome.trial_epochs += r.epochs_trained
        if r.test is not None:
            outcome.accuracies.append(r.test["accuracy"])
    if len(records) != len(w.configs):
        raise RuntimeError(f"{name}: expected {len(w.configs)} trials, got {len(records)}")
    return outcome


# ---- report ------------------------------------------------------------------------


def hardware(device: torch.device) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "device": str(device),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "sweeplab": sweeplab.__version__ if hasattr(sweeplab, "__version__") else "dev",
        "optuna": optuna.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


def markdown(results: dict[str, Any]) -> str:
    hw = results["hardware"]
    lines = [
        f"# Engine benchmark ({hw['device']})",
        "",
        f"{hw['cpu']}, {hw['cores']} cores, torch {hw['torch']} ({hw['torch_threads']} threads)"
        + (f", {hw['gpu']} (CUDA {hw['cuda']})" if "gpu" in hw else "")
        + f", Python {hw['python']}, {results['date']}.",
        f"Settings: {results['settings']}",
        "",
        "Speedup = wall time of (a) `loop` / wall time of the method, same run.",
        "",
    ]
    for w in results["workloads"]:
        lines += [
            f"## {w['name']}: {w['note']}",
            "",
            f"{w['trials']} trials, {w['n_train']} train samples x {w['n_features']} features.",
            "",
            "| method | wall s | trials·epochs/s | speedup vs (a) | mean test accuracy |",
            "|---|---:|---:|---:|---:|",
        ]
        for m in w["methods"]:
            lines.append(
                f"| {m['method']} | {m['wall_s']:.2f} | {m['trial_epochs_per_s']:.2f} | "
                f"{m['speedup']:.2f}x | {m['mean_test_accuracy']:.4f} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated")
    ap.add_argument("--samples", type=int, default=60000, help="synthetic samples (fmnist, ofat)")
    ap.add_argument("--trials", type=int, default=128, help="fmnist lrs; digits configs")
    ap.add_argument("--epochs", type=int, default=10, help="fmnist epochs")
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--tag", default="", help="suffix of the result file names")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args(argv)

    logging_quiet()
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ[synthetic.SAMPLES_ENV] = str(args.samples)
    device = resolve_device(args.device)
    methods = [m for m in args.methods.split(",") if m]
    for m in methods:
        if m not in METHODS:
            ap.error(f"--methods must be among {', '.join(METHODS)}, but got {m!r}")
    builders: dict[str, Callable[[], Workload]] = {
        "fmnist": lambda: fmnist_workload(args.trials, args.epochs),
        "ofat": ofat_workload,
        "iris": iris_workload,
        "digits": lambda: digits_workload(args.trials),
    }
    results: dict[str, Any] = {
        "hardware": hardware(device),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "settings": (
            f"--samples {args.samples} --trials {args.trials} --epochs {args.epochs} "
            f"--device {args.device} --threads {torch.get_num_threads()}"
        ),
        "workloads": [],
    }
    runs_dir = Path(tempfile.mkdtemp(prefix="sweeplab-bench-"))
    try:
        for name in [w for w in args.workloads.split(",") if w]:
            if name not in builders:
                ap.error(f"--workloads must be among {', '.join(WORKLOADS)}, but got {name!r}")
            w = builders[name]()
            ds = load_workload_data(w)
            outcomes: list[Outcome] = []
            for method in methods:
                if method.startswith("loop"):
                    outcome = run_loop(w, ds, device, on_device=method == "loop-tensor")
                else:
                    outcome = run_sweeplab(w, args.device, method == "sweeplab", runs_dir)
                outcomes.append(outcome)
                print(
                    f"{name:8s} {method:12s} {outcome.wall_s:8.2f}s "
                    f"{outcome.throughput:9.2f} trial-epochs/s  acc {outcome.accuracy:.4f}",
                    flush=True,
                )
            ref = next((o.wall_s for o in outcomes if o.method == "loop"), math.nan)
            results["workloads"].append(
                {
                    "name": name,
                    "note": w.note,
                    "trials": len(w.configs),
                    "n_train": ds.n_train,
                    "n_features": ds.n_features,
                    "methods": [
                        {
                            "method": o.method,
                            "wall_s": o.wall_s,
                            "trial_epochs": o.trial_epochs,
                            "trial_epochs_per_s": o.throughput,
                            "speedup": ref / o.wall_s if o.wall_s > 0 else math.nan,
                            "mean_test_accuracy": o.accuracy,
                        }
                        for o in outcomes
                    ],
                }
            )
    finally:
        shutil.rmtree(runs_dir, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"engine-{device.type}{'-' + args.tag if args.tag else ''}"
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / f"{stem}.md").write_text(markdown(results))
    print(f"wrote {args.out / stem}.md and .json")
    return results


def logging_quiet() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


if __name__ == "__main__":
    main()
