"""Several worker processes on this machine, sharing one study."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import torch

from sweeplab.errors import SpecError
from sweeplab.spec import StudySpec
from sweeplab.store import Study, stop_when_full
from sweeplab.study import Callback, init_storage, join, prepare

__all__ = ["auto_workers", "run_local", "worker_devices"]

_log = logging.getLogger(__name__)


def auto_workers(device: str) -> int:
    """One worker per CUDA device when the study may use them all, else one."""
    if device in ("auto", "cuda") and torch.cuda.is_available():
        return max(1, torch.cuda.device_count())
    return 1


def worker_devices(device: str, workers: int) -> list[str]:
    """The device of each worker: CUDA devices round-robin, else ``device`` for all."""
    if device in ("auto", "cuda") and torch.cuda.is_available():
        count = torch.cuda.device_count()
        return [f"cuda:{i % count}" for i in range(workers)]
    return [device] * workers


def _spawn(root: Path, device: str) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    """A quiet ``sweeplab worker``; its stderr goes to a temporary file, relayed when it exits."""
    command = [sys.executable, "-m", "sweeplab", "worker", str(root), "--device", device, "-q"]
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by run_local)
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, env=dict(os.environ))
    return proc, log


def run_local(
    spec: StudySpec | str | Path,
    *,
    workers: int | None = None,
    runs_dir: str | Path = "runs",
    overrides: Iterable[str] = (),
    callback: Callback | None = None,
) -> Study:
    """Run a study with ``workers`` processes on this machine and return it.

    This process prepares the study and creates it in the storage, starts
    ``workers - 1`` ``sweeplab worker`` subprocesses, then works itself
    (reporting progress to ``callback``). After the others exit it joins
    once more, which settles and re-runs the trials of a worker that died.
    """
    with stop_when_full(Path(runs_dir)):
        spec, root, dataset, _ = prepare(spec, runs_dir=runs_dir, overrides=overrides)
    count = auto_workers(spec.study.device) if workers is None else workers
    if count < 1:
        raise SpecError(f"workers must be at least 1, but got {count}")
    devices = worker_devices(spec.study.device, count)
    with stop_when_full(root):
        init_storage(root)
    procs = [_spawn(root, device) for device in devices[1:]]
    stopping = False
    try:
        join(root, device=devices[0], callback=callback, dataset=dataset)
    except KeyboardInterrupt:
        # Ctrl-C or SIGTERM here stops the workers too (a scheduler signals only this
        # process): each marks its group interrupted and exits, like this one.
        stopping = True
        for proc, _ in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        raise
    finally:
        for proc, log in procs:
            code = proc.wait()
            log.seek(0)
            message = log.read().decode(errors="replace").strip()
            log.close()
            if code != 0 and not (stopping and code in (130, 143, -signal.SIGTERM)):
                _log.warning("worker %d exited with %d: %s", proc.pid, code, message[-2000:])
            elif message:
                # A worker logs warnings only (it runs with -q): a lost storage connection
                # it rode out, a trial it retried. They are the user's to see, as this
                # process's own are; the worker's stderr is not the terminal.
                _log.warning("worker %d logged:\n%s", proc.pid, message[-2000:])
    return join(root, device=devices[0], dataset=dataset)
