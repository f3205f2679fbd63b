"""The local sweep agent: each trial runs the sweep's own script, as ``wandb agent`` does, offline.

A W&B sweep whose ``program`` is a script (``train.py``) runs it once per
trial through the one study loop (:class:`ScriptSource` is an
:class:`ObjectiveSource` whose objective starts the script), so workers,
resume, claims, trackers and every strategy work as for any other study.

Per trial: the config is sampled from the sweep's ``parameters``, the
command is built from ``command`` and its macros and the sweep-parameter
file is written (``compat.agent_command``/``agent_env``, W&B's agent's
rules), and the script runs with ``WANDB_MODE=offline`` and ``WANDB_DIR``
set to the trial's directory, its stdout and stderr going to
``stdout.log``/``stderr.log`` there. While it runs, its run's transaction
log is followed (``compat.RunLog``): each logged value of the metric is
reported to Optuna at its ``_step``, and when the pruner (hyperband's
``early_terminate``) says stop, the process is terminated (SIGTERM, then
SIGKILL after :data:`KILL_DELAY` s, as the agent does) and the trial is
pruned. The trial's value is the run summary's metric (by default the last
value logged, as W&B's sweep controller reads it). A script that exits
non-zero is a failed trial whose reason holds the last lines of its stderr.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna

from sweeplab.compat import RunLog, agent_command, agent_env, find_run_log, sample_config
from sweeplab.errors import require_extra
from sweeplab.spec import StudySpec
from sweeplab.store import StudyDir
from sweeplab.study._loop import Runner, Running
from sweeplab.study._objective import ATTR_METRICS, ObjectiveSource, TrialFailedError

__all__ = ["KILL_DELAY", "ScriptFailedError", "ScriptSource", "run_script"]

KILL_DELAY = 10.0
"""Seconds between SIGTERM and SIGKILL when a run is stopped early."""
_POLL = 0.1
_TAIL = 8


class ScriptFailedError(TrialFailedError):
    """The script exited with a non-zero code (the message holds its last stderr lines)."""


class ScriptSource(ObjectiveSource):
    """Trials that each run the sweep's script in a subprocess (see the module docstring)."""

    def __init__(self, spec: StudySpec) -> None:
        # The run log is read with wandb's own protobuf classes.
        require_extra("wandb", "wandb", "running a W&B sweep's script")
        super().__init__(spec, objective=_unbound)

    def train(self, runner: Runner, batch: Sequence[Running]) -> None:
        study_dir = runner.dir

        def objective(trial: optuna.Trial) -> float:
            return run_script(trial, self.spec, study_dir)

        self.objective = objective
        super().train(runner, batch)


def _unbound(trial: optuna.Trial) -> float:
    raise RuntimeError("a script trial runs only through ScriptSource.train")


_PR_SET_PDEATHSIG = 1
_LIBC: Any = None
if sys.platform.startswith("linux"):
    try:
        _LIBC = ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover (no libc to load)
        _LIBC = None


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM it if this process dies (a ``kill -9``)."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    return " | ".join(line.strip() for line in lines[-_TAIL:] if line.strip())[-800:]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(KILL_DELAY)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def run_script(trial: optuna.Trial, spec: StudySpec, study_dir: StudyDir) -> float:
    """Run one trial of a script sweep; returns the metric, or raises ``TrialPruned``."""
    target = spec.objective
    assert target is not None
    assert target.metric is not None
    metric = target.metric
    config = sample_config(trial, target.parameters, grid=spec.search.strategy == "grid")
    trial_dir = study_dir.trial(trial.number).resolve()  # the script runs in its workdir
    trial_dir.mkdir(parents=True, exist_ok=True)
    sweep_id, run_id = spec.study.name, f"trial-{trial.number:05d}"
    labels = {"project": spec.track.project} if spec.track.project else {}
    env = agent_env(
        os.environ,
        wandb_dir=trial_dir,
        sweep_id=sweep_id,
        run_id=run_id,
        config=config,
        labels=labels,
    )
    args_file = trial_dir / "wandb" / f"sweep-{sweep_id}" / f"config-{run_id}.json"
    command = agent_command(target.command, target.target, config, args_file, env)
    stdout, stderr = (p.resolve() for p in study_dir.trial_output(trial.number))
    log: RunLog | None = None
    last_step = -1
    history: list[float] = []
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(
            command,
            cwd=target.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            preexec_fn=_die_with_parent if _LIBC is not None else None,  # prctl only
        )
        try:
            while True:
                code = proc.poll()
                if log is None:
                    path = find_run_log(trial_dir, run_id)
                    log = RunLog(path) if path is not None else None
                for row in log.read() if log is not None else []:
                    value = _number(row.get(metric))
                    if value is None:
                        continue
                    history.append(value)
                    step = int(row["_step"])
                    if step <= last_step:
                        continue
                    last_step = step
                    trial.report(value, step)
                    if trial.should_prune():
                        _stop(proc)
                        _keep_metrics(trial, log)
                        raise optuna.TrialPruned(f"stopped at step {step}")
                if code is not None:
                    break
                time.sleep(_POLL)
        except BaseException:
            _stop(proc)
            raise
    if code != 0:
        raise ScriptFailedError(f"script exited with code {code}: {_tail(stderr) or 'no stderr'}")
    if log is None:
        raise ScriptFailedError(
            "script exited without a W&B run: it must call wandb.init() "
            f"(stdout: {_tail(stdout) or 'empty'})"
        )
    _keep_metrics(trial, log)
    final = _number(log.summary.get(metric))
    if final is None and history:
        final = history[-1]
    if final is None:
        logged = sorted(k for k in log.summary if not k.startswith("_"))
        raise ScriptFailedError(
            f"the script must log the sweep's metric {metric!r} with wandb.log, "
            f"but it logged {', '.join(logged) or 'nothing'}"
        )
    return final


def _keep_metrics(trial: optuna.Trial, log: RunLog | None) -> None:
    if log is None:
        return
    numbers = {
        k: v
        for k, raw in log.summary.items()
        if not k.startswith("_") and (v := _number(raw)) is not None
    }
    trial.set_user_attr(ATTR_METRICS, numbers)
