"""Groups trained side by side, one CPU core each, in worker processes ("lanes").

A group whose step is small (batch 4 of a 784-256-256-10 MLP, or a single
narrow member) gains little from a second intra-op thread: measured on the
2-core bench machine, a batch-4 step took 0.85 ms with one thread and 0.77 ms
with two. Two such groups trained at once in two processes, one thread each,
take the time of the longer one: 1.26 s against 1.78 s one after another with
two threads. Python threads do not help (the per-step Python holds the GIL:
1.88 s).

:func:`lane_groups` decides which groups train faster in lanes
(:func:`lane_gain`) and whether that pays for the worker start-up, from the
machine's calibration: it times each step size with torch's default threads
and with one thread while the other lanes are busy (cores share caches and
memory bandwidth, hyperthreads share a core: only a measurement says what a
lane costs). :func:`train_in_lanes` trains them. Each worker trains its group
with one thread, so a member's numbers are those of training it alone with
``threads=1`` (``MemberResult.threads`` says so; ``reproduce`` restores it).
The parent keeps every callback: pruning decisions, trackers and records stay
in the one process that owns the study directory; a worker only sends epoch
reports and results, and waits for the pruning answer.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import torch

from sweeplab.engine._calibrate import Calibration, calibration, child_env, group_step_work
from sweeplab.engine._data import GroupData
from sweeplab.engine._device import other_load
from sweeplab.engine._epochs import EndCallback, EpochCallback
from sweeplab.engine._member import MemberSpec
from sweeplab.engine._retry import train_group_splitting

__all__ = ["LANE_GAIN", "LANE_MIN_S", "LaneJob", "lane_gain", "lane_groups", "train_in_lanes"]

_log = logging.getLogger(__name__)

LANE_GAIN = 1.15
"""A group runs in a lane when the calibration's lanes, each one thread with
the others busy, are modelled to train this many times the steps per second
of one group with torch's default threads (a margin over the break-even 1.0
for the timing noise of a short calibration)."""

LANE_MIN_S = 6.0
"""Lanes are used only when the groups they would train are modelled to take at
least this long: starting a worker (a fresh Python that imports torch) costs
about two seconds."""


@dataclass
class LaneJob:
    """One group to train in a lane, with the callbacks of :func:`train_group_splitting`.

    ``on_error`` is called (in the parent) with the worker's exception text when
    the group fails as a whole; members that ended before have had ``on_end``.
    """

    members: Sequence[MemberSpec]
    on_epoch: EpochCallback | None = None
    on_end: EndCallback | None = None
    on_error: Callable[[str], None] | None = None
    unit: int = 1


def _interpolate(points: dict[float, float], work: float, log: bool = True) -> float:
    """``points`` (work -> value) read at ``work``, linearly in log work (or in work),
    flat outside: ratios are read in log work, seconds (affine in work) in work."""
    works = sorted(points)
    if work <= works[0]:
        return points[works[0]]
    if work >= works[-1]:
        return points[works[-1]]
    i = bisect.bisect_right(works, work)
    scale = math.log if log else float
    a, b = scale(works[i - 1]), scale(works[i])
    f = (scale(work) - a) / (b - a)
    return points[works[i - 1]] + f * (points[works[i]] - points[works[i - 1]])


def lane_gain(cal: Calibration, work: float) -> float | None:
    """Steps per second of ``cal.lanes`` busy lanes over one group with ``cal.threads``
    threads, at a step of ``work`` multiply-adds (``None``: lanes were not measured)."""
    many = {w: t for w, n, t in cal.points if n == cal.threads}
    busy = dict(cal.lane_points)
    works = set(many) & set(busy)
    if cal.lanes < 2 or not works:
        return None
    return _interpolate({w: cal.lanes * many[w] / busy[w] for w in works}, work)


def _seconds(cal: Calibration, members: Sequence[MemberSpec], work: float, rows: int) -> float:
    """Modelled seconds to train ``members`` for their epochs in a busy lane."""
    steps = max(m.epochs for m in members) * math.ceil(rows / members[0].batch_size)
    return steps * _interpolate(dict(cal.lane_points), work, log=False)


def lane_groups(
    groups: Sequence[Sequence[MemberSpec]],
    n_features: int,
    n_classes: int,
    rows: int,
    device: torch.device,
) -> tuple[int, list[int]]:
    """How many lanes to use and which groups (indices, longest first) train in them.

    A group goes to a lane when :func:`lane_gain` at its step size is at least
    :data:`LANE_GAIN`. ``rows`` is the training rows per epoch. Off the CPU or
    POSIX, without measured lanes (one thread, or ``SWEEPLAB_CALIBRATION=off``),
    when fewer than two groups gain or they would take less than
    :data:`LANE_MIN_S`, or when other processes (another worker of the study,
    say) keep all but one core busy, it is ``(0, [])``: every group trains in
    this process. Lanes never outnumber the cores other processes leave free.
    Which groups gain depends only on the groups and the machine's cached
    calibration; a lane trains with one thread, which its records say.
    """
    if device.type != "cpu" or os.name != "posix":
        return 0, []
    cal = calibration(device)
    chosen: dict[int, float] = {}
    for g, members in enumerate(groups):
        work = group_step_work(members, n_features, n_classes)
        gain = lane_gain(cal, work)
        if gain is None:
            return 0, []
        if gain >= LANE_GAIN:
            chosen[g] = _seconds(cal, members, work, rows)
    if len(chosen) < 2 or sum(chosen.values()) < LANE_MIN_S:
        return 0, []
    busy = other_load()  # other workers of this study, or other programs
    free = cal.lanes if busy is None else int((os.cpu_count() or 1) - busy + 0.5)
    lanes = min(cal.lanes, free)
    if lanes < 2:
        return 0, []
    return lanes, sorted(chosen, key=lambda g: (-chosen[g], g))


def _save(data: GroupData, path: Path) -> None:
    tensors = {
        "x": [data.x_train, data.x_val, data.x_test],
        "y": [data.y_train, data.y_val, data.y_test],
        "folds": [list(f) for f in data.folds],
        "n_classes": data.n_classes,
        "bfloat16": data.compute_dtype == torch.bfloat16,
    }
    torch.save(tensors, path)


def _load(path: str) -> GroupData:
    raw = torch.load(path, mmap=True, weights_only=True)
    (xt, xv, xs), (yt, yv, ys) = raw["x"], raw["y"]
    folds = tuple((a, b) for a, b in raw["folds"])
    compute = torch.bfloat16 if raw["bfloat16"] else None
    return GroupData(xt, yt, xv, yv, xs, ys, int(raw["n_classes"]), folds, compute)


def worker_main(fd: int, data_path: str) -> None:
    """A lane: train the groups the parent sends over socket ``fd``, one thread each.

    Started by :func:`train_in_lanes` as ``python -c`` (not by multiprocessing,
    which would import the caller's ``__main__`` again: an unguarded user
    script would run twice). Stops when told to or when the parent goes away.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    torch.set_num_threads(1)
    conn = Connection(fd)
    data = _load(data_path)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "stop":
            return
        _, job, members, unit = message

        def on_epoch(epoch: int, reports: dict[int, dict[str, float]], job: int = job) -> Any:
            conn.send(("epoch", job, epoch, reports))
            return conn.recv()

        def on_end(m: int, result: Any, job: int = job) -> None:
            conn.send(("end", job, m, result))

        try:
            train_group_splitting(
                members, data, on_epoch=on_epoch, on_end=on_end, unit=unit, threads=1
            )
        except Exception as exc:
            conn.send(("error", job, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
        else:
            conn.send(("done", job))


def _start(data_path: Path) -> tuple[subprocess.Popen[bytes], Connection]:
    """Start one lane worker; its end of a socket pair is inherited as a file descriptor."""
    ours, theirs = socket.socketpair()
    env = child_env()
    code = (
        "import sys; from sweeplab.engine._lanes import worker_main; "
        "worker_main(int(sys.argv[1]), sys.argv[2])"
    )
    fd = theirs.fileno()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(fd), str(data_path)], pass_fds=(fd,), env=env
    )
    theirs.close()
    return proc, Connection(ours.detach())


def train_in_lanes(
    jobs: Sequence[LaneJob],
    data: GroupData,
    lanes: int,
    stop: Callable[[], bool] | None = None,
) -> list[int]:
    """Train ``jobs`` in ``lanes`` worker processes, in order, one thread each.

    A job starts on the first free lane. Once ``stop()`` is true no further
    job starts (the first always does); the indices of those not started are returned (the caller
    gives their trials back). Callbacks run here, in the calling process, in
    the order messages arrive.
    An exception raised by a callback (``KeyboardInterrupt``, a full disk)
    stops every worker and propagates; members not ended by then have had no
    ``on_end``. A worker that dies (killed, out of memory) fails the group it
    was training through ``on_error``; the other lanes go on.
    """
    if not jobs:
        return []
    lanes = max(1, min(lanes, len(jobs)))
    workers: list[tuple[subprocess.Popen[bytes], Connection]] = []
    with tempfile.TemporaryDirectory(prefix="sweeplab-lanes-") as tmp:
        data_path = Path(tmp) / "data.pt"
        _save(data, data_path)
        try:
            workers = [_start(data_path) for _ in range(lanes)]
            return _dispatch(jobs, workers, stop)
        finally:
            _stop(workers)


def _dispatch(
    jobs: Sequence[LaneJob],
    workers: list[tuple[subprocess.Popen[bytes], Connection]],
    stop: Callable[[], bool] | None,
) -> list[int]:
    queue = list(range(len(jobs)))
    skipped: list[int] = []
    busy: dict[int, int] = {}  # worker index -> job index
    while queue or busy:
        if queue and len(queue) < len(jobs) and stop is not None and stop():
            skipped, queue = queue, []
        for w in range(len(workers)):
            if queue and w not in busy and workers[w][0].poll() is None:
                j = queue.pop(0)
                try:
                    workers[w][1].send(("job", j, list(jobs[j].members), jobs[j].unit))
                except OSError:
                    queue.insert(0, j)
                    continue
                busy[w] = j
        if not busy:
            for j in queue:  # every worker died: nothing can run the rest
                _fail(jobs[j], "the lane worker processes exited")
            return skipped
        ready = wait([workers[w][1] for w in busy], timeout=5.0)
        for w in list(busy):
            if workers[w][1] in ready and _serve(jobs[busy[w]], workers[w][1]):
                del busy[w]
    return skipped


def _stop(workers: list[tuple[subprocess.Popen[bytes], Connection]]) -> None:
    for _, conn in workers:
        with contextlib.suppress(OSError, ValueError):
            conn.send(("stop",))
        conn.close()
    for proc, _ in workers:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _fail(job: LaneJob, reason: str) -> None:
    if job.on_error is not None:
        job.on_error(reason)


def _serve(job: LaneJob, conn: Connection) -> bool:
    """Handle one message of the worker training ``job``; True when the job is over."""
    try:
        message = conn.recv()
    except (EOFError, OSError):
        _fail(job, "the lane worker process exited while training the group")
        return True
    kind = message[0]
    if kind == "epoch":
        _, _, epoch, reports = message
        pruned = list(job.on_epoch(epoch, reports)) if job.on_epoch is not None else []
        conn.send(pruned)
        return False
    if kind == "end":
        if job.on_end is not None:
            job.on_end(message[2], message[3])
        return False
    if kind == "error":
        reason, _, trace = message[2].partition("\n")
        _log.error("a group failed in its lane: %s\n%s", reason, trace)
        _fail(job, reason)
    return True
