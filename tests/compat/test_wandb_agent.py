"""W&B sweeps that name their own script run offline, each trial as W&B's agent would run it.

The scripts under ``scripts/`` are written as W&B's examples are (argparse or
``wandb.config``, ``wandb.log`` per epoch) and import nothing of sweeplab;
each writes what it received and what it logged into its run's files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sweeplab.compat import agent_command, command_args, load_sweep, sweep_spec
from sweeplab.errors import SpecError
from sweeplab.store import TrialRecord
from sweeplab.study import run

SCRIPTS = Path(__file__).parent / "scripts"
SRC = str(Path(__file__).parents[2] / "src")


def _spec(name: str, *overrides: str):  # type: ignore[no-untyped-def]
    path = SCRIPTS / name
    return sweep_spec(
        load_sweep(path), path=path, overrides=["track.tensorboard=false", *overrides]
    )


def _received(root: Path, number: int) -> dict[str, Any]:
    found = sorted(
        (root / "trials" / f"{number:05d}" / "wandb").glob("offline-run-*/files/received.json")
    )
    assert len(found) == 1, f"trial {number} must have run its script once"
    out: dict[str, Any] = json.loads(found[0].read_text())
    return out


def _nested(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def _within(sample: dict[str, Any], config: dict[str, Any]) -> bool:
    """Every sampled value is in the config (wandb merges nested values into the defaults)."""
    return all(
        _within(v, config.get(k, {})) if isinstance(v, dict) else config.get(k) == v
        for k, v in sample.items()
    )


def _check_complete(root: Path, r: TrialRecord) -> dict[str, Any]:
    got = _received(root, r.number)
    assert _within(_nested(r.params), got["config"]), "the script saw the sampled config"
    assert r.objective == got["logged"][-1], "the metric is the last value the script logged"
    curves = (root / "trials" / f"{r.number:05d}" / "curves.csv").read_text().splitlines()[1:]
    assert [float(line.split(",")[1]) for line in curves] == got["logged"]
    return got


def test_command_args_match_wandb_agent() -> None:
    from wandb.sdk.launch.sweeps.utils import create_sweep_command_args

    config = {"lr": 0.01, "flag": True, "off": False, "name": "a b", "opt": {"m": 1}}
    theirs = create_sweep_command_args({"args": {k: {"value": v} for k, v in config.items()}})
    ours = command_args(config)
    for key in ours:
        assert ours[key] == theirs[key], key


def test_agent_command_macros(tmp_path: Path) -> None:
    config = {"lr": 0.5, "flag": False}
    args_file = tmp_path / "args.json"
    default = agent_command(None, "/x/train.py", config, args_file, {})
    assert default == ["/usr/bin/env", sys.executable, "/x/train.py", "--lr=0.5", "--flag=False"]
    assert not args_file.exists()
    custom = agent_command(
        ["${envvar:HOME_X}/bin/py", "${program}", "${args_no_boolean_flags}", "${args_json_file}",
         "${args_no_hyphens}", "${unknown}", "--fixed"],
        "train.py", config, args_file, {"HOME_X": "/opt"},
    )  # fmt: skip
    assert custom == ["/opt/bin/py", "train.py", "--lr=0.5", str(args_file), "lr=0.5",
                      "flag=False", "--fixed"]  # fmt: skip
    assert json.loads(args_file.read_text()) == config


def test_sweep_keys_are_kept_or_refused(tmp_path: Path) -> None:
    spec, _ = _spec("bayes_config.yaml")
    assert spec.objective is not None
    assert spec.objective.kind == "script"
    assert spec.objective.target == str(SCRIPTS / "train_config.py")
    assert spec.objective.workdir == str(SCRIPTS)
    assert spec.study.name == "bayes-config"
    assert spec.study.description == "TPE over a nested optimizer block"
    assert (spec.track.project, spec.track.entity) == ("my-project", "my-team")
    assert spec.search.strategy == "tpe"
    assert spec.search.trials == 3
    raw = load_sweep(SCRIPTS / "bayes_config.yaml")
    del raw["metric"]
    raw["method"] = "random"
    with pytest.raises(SpecError, match=r"metric\.name is required to run a script"):
        sweep_spec(raw, path=SCRIPTS / "bayes_config.yaml")
    named, _ = sweep_spec(
        raw, path=SCRIPTS / "bayes_config.yaml", overrides=["objective.metric=loss"]
    )
    assert named.objective is not None
    assert named.objective.metric == "loss"
    raw = load_sweep(SCRIPTS / "bayes_config.yaml")
    raw["program"] = "missing.py"
    with pytest.raises(SpecError, match="program must be a script next to the sweep file"):
        sweep_spec(raw, path=SCRIPTS / "bayes_config.yaml")
    raw["program"], raw["command"] = "train_config.py", "python train.py"
    with pytest.raises(SpecError, match="command must be a non-empty list"):
        sweep_spec(raw, path=SCRIPTS / "bayes_config.yaml")


def test_grid_script_sees_each_point_once_and_a_crash_fails_alone(runs: Path) -> None:
    spec, _ = _spec("grid_args.yaml")
    assert spec.search.trials == 4
    study = run(spec, runs_dir=runs)
    records = study.records()
    assert len(records) == 4
    points = {(r.params["layer_1_size"], r.params["flag1"], r.params["crash"]) for r in records}
    assert len(points) == 4
    for r in records:
        trial = study.dir.trial(r.number)
        assert (trial / "stdout.log").exists()
        if r.params["crash"]:
            assert r.state == "failed"
            assert r.reason is not None
            assert "exited with code 1" in r.reason
            assert "boom at epoch 1" in r.reason
            continue
        assert r.state == "complete"
        got = _check_complete(study.dir.root, r)
        flags = [f"--{k}={v}" for k, v in r.params.items()]
        assert sorted(got["argv"]) == sorted(flags), "${args} as W&B's agent passes them"


def test_bayes_script_with_command_macros_and_nested_config(runs: Path) -> None:
    spec, _ = _spec("bayes_config.yaml")
    study = run(spec, runs_dir=runs)
    records = study.records()
    assert [r.state for r in records] == ["complete"] * 3
    for r in records:
        got = _check_complete(study.dir.root, r)
        # log_uniform takes natural-log bounds: the value is exp(U(-9.2, -2.3)).
        assert 1.0e-4 < r.params["lr"] < 0.1003
        assert got["config"]["optimizer"] == {
            "name": r.params["optimizer.name"],
            "decay": r.params["optimizer.decay"],
        }
        assert got["argv"][:2] == [f"lr={r.params['lr']}", "epochs=3"]  # sweep order
        assert got["argv"][-1].endswith(f"config-trial-{r.number:05d}.json")
        assert json.loads(Path(got["argv"][-1]).read_text()) == _nested(r.params)
    assert study.best() is not None


@pytest.mark.slow
def test_hyperband_stops_runs_at_a_rung(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAIN_SLEEP", "0.3")
    spec, _ = _spec("hyperband_config.yaml")
    assert spec.search.strategy == "hyperband"
    study = run(spec, runs_dir=runs)
    records = study.records()
    assert len(records) == 6
    pruned = [r for r in records if r.state == "pruned"]
    assert pruned, "hyperband must stop some runs early"
    for r in pruned:
        got = _received(study.dir.root, r.number)
        assert len(got["logged"]) < 5, "a stopped run did not train to the end"
        assert r.epochs_trained < 5
    for r in records:
        if r.state == "complete":
            _check_complete(study.dir.root, r)


def _scripts_running_under(root: Path) -> list[int]:
    """Pids of training scripts whose WANDB_DIR is inside ``root`` (Linux /proc)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().split()[2]
            script = b"train_config.py" in (proc / "cmdline").read_bytes()
        except OSError:
            continue
        mine = any(e.startswith(f"WANDB_DIR={root}".encode()) for e in environ)
        if state != "Z" and script and mine:
            found.append(int(proc.name))
    return found


def _cli(cwd: Path, *args: str, sleep: float = 0.2) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": SRC, "TRAIN_SLEEP": str(sleep)}
    return subprocess.Popen(
        [sys.executable, "-m", "sweeplab", "run", *args, "-q"],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


@pytest.mark.slow
def test_kill_9_then_resume_with_workers_runs_every_grid_point_once(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        (SCRIPTS / "grid_args.yaml")
        .read_text()
        .replace("program: train_args.py", f"program: {SCRIPTS / 'train_config.py'}")
        .replace("metric:\n  name: val_accuracy\n  goal: maximize", "metric:\n  name: loss")
        .replace("learn_rate:\n    value: 0.1", "lr:\n    values: [0.01, 0.1, 1.0]")
        .replace("layer_1_size:\n    value: 32", "epochs:\n    value: 2")
        .replace("crash:\n    values: [false, true]", "nesterov:\n    value: false")
        .replace("flag1:\n    values: [true, false]", "optimizer:\n    value: {decay: 0.5}")
    )
    root = tmp_path / "runs" / "sweep"
    first = _cli(tmp_path, str(sweep), "--set", "track.tensorboard=false", sleep=1.5)
    deadline = time.monotonic() + 120

    def in_flight() -> bool:  # one trial finished and the next one's script started
        done = list(root.glob("trials/*/record.json"))
        started = [p for p in root.glob("trials/*/stdout.log") if _scripts_running_under(p.parent)]
        return len(done) >= 1 and bool(started)

    while not in_flight() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert in_flight()
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    # The script in flight (3 s of epochs left) dies with it (PR_SET_PDEATHSIG): no
    # orphan keeps training into a trial directory that resume will discard.
    deadline = time.monotonic() + 2
    while _scripts_running_under(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _scripts_running_under(tmp_path)
    killed = len(list(root.glob("trials/*/record.json")))
    assert 1 <= killed < 3
    second = _cli(tmp_path, str(sweep), "--workers", "2")
    _, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    records = [json.loads(p.read_text()) for p in sorted(root.glob("trials/*/record.json"))]
    assert len(records) == 3
    assert sorted(r["params"]["lr"] for r in records) == [0.01, 0.1, 1.0]
    assert all(r["state"] == "complete" for r in records)


def test_any_strategy_runs_the_script_from_the_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sweeplab.cli import app

    args = ["run", str(SCRIPTS / "bayes_config.yaml"), "-q", "--runs-dir", str(tmp_path)]
    sets = ["search.strategy=random", "search.trials=1", "track.tensorboard=false"]
    res = CliRunner().invoke(app, [*args, *(a for s in sets for a in ("--set", s))])
    assert res.exit_code == 0, res.output
    root = tmp_path / "bayes-config"
    assert 'strategy = "random"' in (root / "study.toml").read_text()
    records = [json.loads(p.read_text()) for p in sorted(root.glob("trials/*/record.json"))]
    assert [r["label"] for r in records] == ["random"]
    for r in records:
        got = _received(root, r["number"])
        assert _within(_nested(r["params"]), got["config"])
        assert r["objective"] == got["logged"][-1]


def test_run_log_reads_wandbs_own_file_as_it_grows(tmp_path: Path) -> None:
    from sweeplab.compat import RunLog, find_run_log

    script = tmp_path / "log.py"
    script.write_text(
        "import wandb\n"
        "run = wandb.init(config={'a': 1})\n"
        "for i in range(3):\n"
        "    wandb.log({'loss': 1.0 / (i + 1), 'blob': 'x' * 40000})  # spans 32 KiB blocks\n"
        "run.summary['best'] = 0.25\n"
        "run.finish()\n"
    )
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path), "WANDB_RUN_ID": "r1"}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    path = find_run_log(tmp_path, "r1")
    assert path is not None
    data = path.read_bytes()
    assert len(data) > 3 * 40000
    # Read it as a follower would: the file grows in arbitrary pieces.
    growing = tmp_path / "growing.wandb"
    log, rows = RunLog(growing), []
    for end in [*range(0, len(data), 7919), len(data)]:
        growing.write_bytes(data[:end])
        rows += log.read()
    assert [r["loss"] for r in rows] == [1.0, 0.5, 1.0 / 3]
    assert [r["_step"] for r in rows] == [0, 1, 2]
    assert all(r["blob"] == "x" * 40000 for r in rows)
    assert log.summary["loss"] == 1.0 / 3
    assert log.summary["best"] == 0.25
    assert log.exit_code == 0


def test_grid_with_early_terminate_prunes_like_wandb() -> None:
    import optuna

    from sweeplab.study._script import ScriptSource

    raw = load_sweep(SCRIPTS / "grid_args.yaml")
    raw["early_terminate"] = {"type": "hyperband", "min_iter": 1, "eta": 2}
    spec, notes = sweep_spec(raw, path=SCRIPTS / "grid_args.yaml")
    assert spec.search.strategy == "grid"
    assert not any("early_terminate" in n for n in notes)
    pruner = ScriptSource(spec).pruner()
    assert isinstance(pruner, optuna.pruners.HyperbandPruner)
    assert (pruner._min_resource, pruner._reduction_factor) == (1, 2)
    del raw["early_terminate"]
    plain, _ = sweep_spec(raw, path=SCRIPTS / "grid_args.yaml")
    assert isinstance(ScriptSource(plain).pruner(), optuna.pruners.NopPruner)


EXAMPLE_SWEEPS = {
    # A Keras CNN in the style of W&B's examples: bayes with hyperband, its own names.
    "keras": (
        "program: train.py\nmethod: bayes\nmetric: {name: val_loss, goal: minimize}\n"
        "early_terminate: {type: hyperband, min_iter: 3}\n"
        "parameters:\n  learn_rate: {min: 0.0001, max: 0.01}\n"
        "  layer_1_size: {values: [16, 32, 64]}\n  dropout: {values: [0.2, 0.4]}\n",
        ("bohb", None),
    ),
    # A PyTorch CNN grid of 540 configs with hyperband.
    "pytorch_grid": (
        "program: train.py\nmethod: grid\nmetric: {name: accuracy, goal: maximize}\n"
        "early_terminate: {type: hyperband, min_iter: 1}\n"
        "parameters:\n  channels_one: {values: [8, 16, 24, 32, 40, 48]}\n"
        "  channels_two: {values: [16, 32, 48]}\n  dropout: {values: [0.1, 0.2, 0.3, 0.4, 0.5]}\n"
        "  learning_rate: {values: [0.001, 0.01, 0.1]}\n  epochs: {values: [5, 10]}\n",
        ("grid", 540),
    ),
    # Cross-validation with `distribution:` on every key.
    "cv": (
        "program: train.py\nmethod: random\nmetric: {name: val_accuracy, goal: maximize}\n"
        "run_cap: 12\nparameters:\n  num_folds: {distribution: constant, value: 5}\n"
        "  C: {distribution: log_uniform_values, min: 0.01, max: 100}\n"
        "  kernel: {distribution: categorical, values: [rbf, linear]}\n",
        ("random", 12),
    ),
    # fastai with log_uniform exponents -11..-2.
    "fastai": (
        "program: train.py\nmethod: random\nmetric: {name: error_rate, goal: minimize}\n"
        "parameters:\n  lr: {distribution: log_uniform, min: -11, max: -2}\n"
        "  pretrained: {values: [true, false]}\n",
        ("random", None),
    ),
}


@pytest.mark.parametrize("name", sorted(EXAMPLE_SWEEPS))
def test_wandb_example_style_sweeps_import_as_script_studies(tmp_path: Path, name: str) -> None:
    text, (strategy, trials) = EXAMPLE_SWEEPS[name]
    (tmp_path / "train.py").write_text("import wandb\n")
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    spec, _ = sweep_spec(load_sweep(path), path=path)
    assert spec.objective is not None
    assert spec.objective.kind == "script"
    assert spec.search.strategy == strategy
    if trials is not None:
        assert spec.search.trials == trials
