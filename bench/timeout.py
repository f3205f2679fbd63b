"""``search.timeout`` on digits: sweeplab's TPE against Optuna TPE driving a plain loop.

Issue #15's target: with ``search.timeout = 60`` on ``examples/digits_tpe.toml``,
sweeplab's best validation accuracy, and the test accuracy of that config
re-trained as ``sweeplab finalize`` does, are above Optuna TPE driving the
loop people write for the same 60 s, as means over 5 seeds.

For each seed ``S`` both arms run in this one invocation (their order
alternates per seed, so slow drift of a shared machine is spread over both):

``sweeplab``
    The commands a user types, each in a fresh process:
    ``python -m sweeplab run examples/digits_tpe.toml --runs-dir TMP -q
    --set study.seed=S --set search.timeout=T --set search.trials=100000``
    (the large budget leaves the timeout as the only limit), then
    ``python -m sweeplab finalize TMP/digits-tpe``. The wall time of ``run``
    includes the interpreter start, data loading and every record written. The
    best validation accuracy and the number of finished trials come from the
    study's records (``sweeplab.load_study``); the test accuracy is the mean
    over finalize's seeds from ``final/model_card.json``.

``plain``
    ``optuna.create_study(sampler=TPESampler(seed=S))`` and
    ``study.optimize(objective, timeout=T)``; the objective builds the MLP of
    the study's search space (depth 1-3, ``units1..units<depth>``, log-uniform
    lr, dropout, batch size; Adam and the epochs of ``[params]``) as
    ``nn.Sequential``, trains it with ``DataLoader`` + ``torch.optim`` on the
    study's train split and returns the validation accuracy after the last
    epoch. The rows are the ones sweeplab uses (``load_study_data`` of the same
    spec and seed; loaded before the clock starts). The best params are then
    re-trained as finalize does: on train+val, the same epochs, as many fresh
    seeds as finalize trains (``max(3, study.repeats)``), each scored once on
    the test split; the test accuracy is their mean.

Results go to ``<out>.json`` and ``<out>.md``: per-seed rows, means and the
mean differences (sweeplab - plain).

    python bench/timeout.py                       # 5 seeds x 2 arms x 60 s: ~12-14 min
    python bench/timeout.py --seeds 1 --timeout 3 --set params.epochs=2   # quick check
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from command import sweeplab_command, timed, write_results  # noqa: E402
from plain import build_model, build_optimizer, evaluate  # noqa: E402

from engine import hardware  # noqa: E402
from sweeplab import load_study  # noqa: E402
from sweeplab.data import Dataset  # noqa: E402
from sweeplab.spec import Range, StudySpec, TrainParams, load_spec  # noqa: E402
from sweeplab.store import read_provenance  # noqa: E402
from sweeplab.study import load_study_data  # noqa: E402

STUDY = ROOT / "examples" / "digits_tpe.toml"
BUDGET = 100_000
"""``search.trials`` of the sweeplab arm: large enough that only the timeout stops it."""
METRICS = ("val_accuracy", "test_accuracy", "trials", "wall_s")


def run_sweeplab(
    study: Path, seed: int, timeout: float, overrides: Sequence[str], runs_dir: Path
) -> dict[str, Any]:
    """``sweeplab run`` then ``sweeplab finalize``, each a fresh process."""
    sets = [f"study.seed={seed}", f"search.timeout={timeout:g}", f"search.trials={BUDGET}"]
    sets += list(overrides)
    spec = load_spec(study, sets)
    cmd = sweeplab_command("run", str(study), "--runs-dir", str(runs_dir), "-q")
    for s in sets:
        cmd += ["--set", s]
    wall = timed(cmd)
    study_dir = runs_dir / spec.study.name
    finalize_wall = timed(sweeplab_command("finalize", str(study_dir)))
    result = load_study(study_dir)
    best = result.best()
    if best is None or best.objective is None:
        raise RuntimeError(f"sweeplab finished no trial in {study_dir}")
    card = json.loads((study_dir / "final" / "model_card.json").read_text())
    return {
        "fingerprint": read_provenance(result.dir.provenance)["data"]["fingerprint"],
        "wall_s": wall,
        "finalize_s": finalize_wall,
        "trials": sum(r.state == "complete" for r in result.records()),
        "val_accuracy": float(best.objective),
        "test_accuracy": float(card["test"]["summary"]["accuracy"]["mean"]),
        "best_params": dict(best.params),
        "command": " ".join(cmd[1:]),
    }


# ---- the plain arm ---------------------------------------------------------------------


def suggest_params(trial: optuna.Trial, spec: StudySpec) -> dict[str, Any]:
    """The study's search space, suggested the way a hand-written objective does:
    the depth first, then one width per layer (``units2`` only when depth >= 2)."""
    space = spec.search.space

    def choice(name: str) -> Any:
        values = space[name]
        assert isinstance(values, list), f"{name} must be a list of values in {STUDY.name}"
        return trial.suggest_categorical(name, values)

    def number(name: str) -> float:
        r = space[name]
        assert isinstance(r, Range), f"{name} must be a range in {STUDY.name}"
        return trial.suggest_float(name, r.low, r.high, log=r.log)

    depth = int(choice("depth"))
    params: dict[str, Any] = {"depth": depth}
    for i in range(1, depth + 1):
        params[f"units{i}"] = choice(f"units{i}")
    params["lr"] = number("lr")
    params["dropout"] = number("dropout")
    params["batch_size"] = choice("batch_size")
    return params


def fit(
    p: TrainParams,
    x: torch.Tensor,
    y: torch.Tensor,
    n_in: int,
    n_out: int,
    seed: int,
) -> torch.nn.Module:
    """``p``'s MLP trained on ``(x, y)`` with DataLoader + torch.optim for ``p.epochs``."""
    torch.manual_seed(seed)
    model = build_model(p, n_in, n_out)
    opt = build_optimizer(p, model)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=p.batch_size, shuffle=True
    )
    model.train()
    for _ in range(p.epochs):
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model


def run_plain(
    spec: StudySpec, ds: Dataset, seed: int, timeout: float, threads: int = 0
) -> dict[str, Any]:
    """Optuna TPE over the plain loop for ``timeout`` s, then the finalize-style refit
    (``threads``: torch's thread count for this arm, 0 for torch's default)."""
    base = spec.params.model_dump()

    def params_of(values: dict[str, Any]) -> TrainParams:
        return TrainParams.model_validate({**base, **values})

    def objective(trial: optuna.Trial) -> float:
        p = params_of(suggest_params(trial, spec))
        init = seed * 100_003 + trial.number
        model = fit(p, ds.x_train, ds.y_train, ds.n_features, ds.n_classes, init)
        return evaluate(model, ds.x_val, ds.y_val)

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    default_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        used_threads = torch.get_num_threads()
        start = time.perf_counter()
        study.optimize(objective, timeout=timeout)
        wall = time.perf_counter() - start
        best = params_of(study.best_params)
        x_fit = torch.cat([ds.x_train, ds.x_val])
        y_fit = torch.cat([ds.y_train, ds.y_val])
        tests = []
        refit_start = time.perf_counter()
        for i in range(max(3, spec.study.repeats)):  # finalize's seed count
            model = fit(best, x_fit, y_fit, ds.n_features, ds.n_classes, 7_919 * (seed + 1) + i)
            tests.append(evaluate(model, ds.x_test, ds.y_test))
        refit = time.perf_counter() - refit_start
    finally:
        torch.set_num_threads(default_threads)
    complete = optuna.trial.TrialState.COMPLETE
    return {
        "wall_s": wall,
        "finalize_s": refit,
        "trials": sum(t.state == complete for t in study.trials),
        "threads": used_threads,
        "val_accuracy": float(study.best_value),
        "test_accuracy": statistics.fmean(tests),
        "test_per_seed": tests,
        "best_params": dict(study.best_params),
    }


# ---- report ------------------------------------------------------------------------------


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per arm the mean of each metric over seeds, and the mean difference sweeplab - plain."""
    means = {
        arm: {m: statistics.fmean(r[arm][m] for r in rows) for m in METRICS}
        for arm in ("sweeplab", "plain")
    }
    diff = {m: means["sweeplab"][m] - means["plain"][m] for m in METRICS}
    return {"means": means, "difference": diff}


def markdown(results: dict[str, Any]) -> str:
    hw = results["hardware"]
    lines = [
        f"# search.timeout benchmark: digits TPE, {results['timeout']:g} s",
        "",
        f"{hw['cpu']}, {hw['cores']} cores, torch {hw['torch']} ({hw['torch_threads']} threads), "
        f"optuna {hw['optuna']}, Python {hw['python']}, {results['date']}.",
        f"Study: `{results['study']}` {' '.join(results['overrides'])}; "
        f"{len(results['rows'])} seeds.",
        "",
        "`sweeplab`: `sweeplab run` with `search.timeout` (fresh process, wall includes start-up "
        "and records), then `sweeplab finalize` (its own fresh process; train+val, "
        f"{results['refit_seeds']} seeds, mean test accuracy). `plain`: Optuna TPE "
        "`study.optimize(objective, timeout)` over DataLoader + nn.Sequential + torch.optim, "
        "best params re-trained the same way (in process, after the timed search), "
        f"torch threads {sorted({r['plain']['threads'] for r in results['rows']})}.",
        "",
        "| seed | first | sweeplab val | plain val | sweeplab test | plain test "
        "| sweeplab trials | plain trials | sweeplab wall s | plain wall s "
        "| sweeplab finalize s | plain refit s |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["rows"]:
        a, b = r["sweeplab"], r["plain"]
        lines.append(
            f"| {r['seed']} | {r['first']} | {a['val_accuracy']:.4f} | {b['val_accuracy']:.4f} | "
            f"{a['test_accuracy']:.4f} | {b['test_accuracy']:.4f} | {a['trials']} | "
            f"{b['trials']} | {a['wall_s']:.1f} | {b['wall_s']:.1f} | "
            f"{a['finalize_s']:.1f} | {b['finalize_s']:.1f} |"
        )
    m, d = results["summary"]["means"], results["summary"]["difference"]
    lines.append(
        f"| **mean** | | {m['sweeplab']['val_accuracy']:.4f} | {m['plain']['val_accuracy']:.4f} "
        f"| {m['sweeplab']['test_accuracy']:.4f} | {m['plain']['test_accuracy']:.4f} "
        f"| {m['sweeplab']['trials']:.1f} | {m['plain']['trials']:.1f} "
        f"| {m['sweeplab']['wall_s']:.1f} | {m['plain']['wall_s']:.1f} | | |"
    )
    lines += [
        "",
        f"Mean difference (sweeplab - plain): val accuracy {d['val_accuracy']:+.4f}, "
        f"test accuracy {d['test_accuracy']:+.4f}, trials {d['trials']:+.1f}, "
        f"wall {d['wall_s']:+.1f} s.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5, help="seeds 0 .. N-1")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per arm and seed")
    ap.add_argument("--study", type=Path, default=STUDY)
    ap.add_argument("--set", action="append", default=[], dest="overrides", help="key=value")
    ap.add_argument("--threads", type=int, default=0, help="plain arm's torch threads (0: default)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "timeout-cpu")
    args = ap.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("sweeplab").setLevel(logging.WARNING)

    rows = []
    spec = load_spec(args.study, args.overrides)
    for seed in range(args.seeds):
        seeded = load_spec(args.study, [f"study.seed={seed}", *args.overrides])
        ds = load_study_data(seeded)  # the rows sweeplab trains on with this seed
        order = ("sweeplab", "plain") if seed % 2 == 0 else ("plain", "sweeplab")
        row: dict[str, Any] = {"seed": seed, "first": order[0]}
        for arm in order:
            if arm == "plain":
                row[arm] = run_plain(seeded, ds, seed, args.timeout, args.threads)
            else:
                runs_dir = Path(tempfile.mkdtemp(prefix="sweeplab-timeout-"))
                try:
                    row[arm] = run_sweeplab(
                        args.study, seed, args.timeout, args.overrides, runs_dir
                    )
                finally:
                    shutil.rmtree(runs_dir, ignore_errors=True)
            r = row[arm]
            if r.get("fingerprint", ds.fingerprint) != ds.fingerprint:
                raise RuntimeError(f"seed {seed}: the arms must train on the same rows, but differ")
            print(
                f"seed {seed} {arm:8s} val {r['val_accuracy']:.4f} test {r['test_accuracy']:.4f} "
                f"trials {r['trials']} wall {r['wall_s']:.1f}s",
                flush=True,
            )
        rows.append(row)

    results: dict[str, Any] = {
        "hardware": hardware(torch.device("cpu")),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "study": str(args.study.resolve().relative_to(ROOT))
        if args.study.resolve().is_relative_to(ROOT)
        else str(args.study),
        "overrides": list(args.overrides),
        "timeout": args.timeout,
        "refit_seeds": max(3, spec.study.repeats),
        "rows": rows,
        "summary": summarize(rows),
    }
    d = results["summary"]["difference"]
    print(
        f"mean difference (sweeplab - plain): val {d['val_accuracy']:+.4f} "
        f"test {d['test_accuracy']:+.4f} trials {d['trials']:+.1f} wall {d['wall_s']:+.1f}s",
        flush=True,
    )
    write_results(args.out, results, markdown(results))
    return results


if __name__ == "__main__":
    main()
