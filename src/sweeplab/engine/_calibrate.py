"""A per-machine measurement of what a CPU training step costs.

The planner and the thread choice used constants measured once on the bench
machine. :func:`calibration` instead times a stacked MLP training step
(forward ``baddbmm``, backward, one fused Adam call) at a few sizes, with one
thread and with torch's default, on this machine, once: the result is cached
as JSON under ``$SWEEPLAB_CACHE_DIR`` (default ``~/.cache/sweeplab``), keyed by
the CPU model, core count, torch version and default thread count, and read
back by every later process, so decisions are deterministic for a given
machine and cache. It takes five to seven seconds on a 2-core machine.

What it gives:

- ``small_step``: the step size (multiply-adds) from which more threads are
  faster than one (``inf`` when one thread always was);
- ``overhead_s`` and ``rate``: the fixed seconds per step and the multiply-adds
  per second of a step with the better thread count, so the planner's fixed
  cost is ``overhead_s * rate`` multiply-adds;
- ``lane_points``: each size timed with one thread while ``lanes - 1`` other
  processes run the same step (one thread each), which is what a group costs
  in a lane (:mod:`sweeplab.engine._lanes`): cores that share caches, memory
  bandwidth or a physical core (hyperthreads) slow each other down, and only
  a measurement says by how much. This adds about two seconds (the probe
  processes import torch).

A calibration measured while other processes kept the CPU busy (spinning
OpenMP threads make one thread look always best) is cached marked ``busy``
and measured again by the first process that finds the machine quiet, so a
busy machine pays the measurement once, not once per process.
``SWEEPLAB_CALIBRATION=off`` uses the built-in constants.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
import math
import os
import platform
import select
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from sweeplab.engine._device import SMALL_STEP, flush_denormals, other_load
from sweeplab.engine._member import MemberSpec

__all__ = ["MAX_LANES", "Calibration", "calibration", "probe_main", "step_work"]

_log = logging.getLogger(__name__)

VERSION = 2
"""Bumped when what is measured changes, so old cache files are not read."""

MAX_LANES = 8
"""At most this many lanes (worker processes) train at once."""

SHAPES: tuple[tuple[int, int, int], ...] = (
    (1, 4, 64),
    (1, 4, 256),
    (1, 32, 256),
    (2, 64, 256),
    (8, 64, 256),
)
"""(members, batch, hidden width) of the timed 784-w-w-10 Adam steps."""

_STEPS = 4
"""At least this many steps per timing..."""
_MIN_S = 0.03
"""...and at least this long: a short timing of a sub-millisecond step is noise."""
_REPEATS = 5
_memo: dict[str, Calibration] = {}


@dataclass(frozen=True)
class Calibration:
    """What a training step costs on this machine (see the module doc)."""

    key: str
    small_step: float
    overhead_s: float
    rate: float
    threads: int
    points: tuple[tuple[float, int, float], ...] = ()
    """Each timing: (step multiply-adds, threads, seconds per step)."""
    busy: bool = False
    """Whether other processes kept a core or more busy while it was measured."""
    lanes: int = 0
    """How many lanes ``lane_points`` were measured with (0: not measured)."""
    lane_points: tuple[tuple[float, float], ...] = ()
    """Each size: (step multiply-adds, seconds per one-thread step with the other
    ``lanes - 1`` lanes busy)."""

    @property
    def overhead_work(self) -> float:
        """The fixed cost of a step in multiply-adds (what the planner weighs)."""
        return self.overhead_s * self.rate


DEFAULT = Calibration("default", SMALL_STEP, 4e-4, 5e10, 0)
"""The constants used without a calibration: 0.4 ms at 50 GFLOP/s per step."""


def step_work(members: int, batch: int, dims: list[int]) -> float:
    """Multiply-adds of one training step: forward and backward (3x the forward
    matrix products) plus an optimizer update of ~8 operations per parameter."""
    products = sum(dims[i] * dims[i + 1] for i in range(len(dims) - 1))
    params = products + sum(dims[1:])
    return float(members * (3 * batch * products + 8 * params))


def group_step_work(members: Sequence[MemberSpec], n_features: int, n_classes: int) -> float:
    """:func:`step_work` of a group: its members at the widest member's shape."""
    widest = [max(m.units[i] for m in members) for i in range(members[0].depth)]
    return step_work(len(members), members[0].batch_size, [n_features, *widest, n_classes])


def child_env() -> dict[str, str]:
    """This environment, with the directory holding ``sweeplab`` first on the path,
    for the ``python -c`` processes (calibration probes, lanes) the engine starts."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


@functools.cache
def _cpu_model() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return cpu


def _machine_key() -> str:
    parts = [_cpu_model(), str(os.cpu_count()), torch.__version__, str(torch.get_num_threads())]
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
    return f"v{VERSION}-{digest}"


def cache_dir() -> Path:
    """Where calibrations are kept: ``$SWEEPLAB_CACHE_DIR`` or ``~/.cache/sweeplab``."""
    env = os.environ.get("SWEEPLAB_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "sweeplab"


def _step(members: int, batch: int, width: int) -> Callable[[], None]:
    """One stacked 784-w-w-10 Adam training step, as a function to call repeatedly."""
    gen = torch.Generator().manual_seed(0)
    dims = [784, width, width, 10]
    ws = [
        (torch.randn(members, dims[i], dims[i + 1], generator=gen) * 0.05).requires_grad_()
        for i in range(3)
    ]
    bs = [torch.zeros(members, 1, dims[i + 1]).requires_grad_() for i in range(3)]
    params = [*ws, *bs]
    state = [torch.zeros_like(p) for p in params for _ in range(2)]
    x = torch.rand(members, batch, dims[0], generator=gen)
    y = torch.randint(0, 10, (members * batch,), generator=gen)
    step = torch.ones(())

    def once() -> None:
        h = x
        for i in range(3):
            h = torch.baddbmm(bs[i], h, ws[i])
            if i < 2:
                h = torch.relu(h)
        loss = torch.nn.functional.cross_entropy(h.reshape(-1, 10), y)
        for p in params:
            p.grad = None
        loss.backward()  # type: ignore[no-untyped-call]
        with torch.no_grad():
            torch._fused_adam_(
                params,
                [p.grad for p in params if p.grad is not None],
                state[0::2],
                state[1::2],
                [],
                [step] * len(params),
                lr=1e-3,
                beta1=0.9,
                beta2=0.999,
                weight_decay=0.0,
                eps=1e-8,
                amsgrad=False,
                maximize=False,
            )

    return once


def _time_step(members: int, batch: int, width: int, threads: int) -> float:
    """Seconds of one stacked 784-w-w-10 Adam step with ``threads`` threads (the best
    of :data:`_REPEATS` timings: other processes only ever add time)."""
    once = _step(members, batch, width)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        once()
        times = []
        for _ in range(_REPEATS):
            start = time.perf_counter()
            steps = 0
            while steps < _STEPS or time.perf_counter() - start < _MIN_S:
                once()
                steps += 1
            times.append((time.perf_counter() - start) / steps)
    finally:
        torch.set_num_threads(before)
    return min(times)


def probe_main() -> None:
    """A busy lane for :func:`measure`: run the step of the shape read from stdin
    ("members batch width"), with one thread, until the next line; stop at EOF."""
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    line = sys.stdin.readline()
    while line.strip():
        members, batch, width = (int(v) for v in line.split())
        once = _step(members, batch, width)
        once()
        print("ready", flush=True)
        while not select.select([sys.stdin], [], [], 0)[0]:
            once()
        line = sys.stdin.readline()


def _lane_times(lanes: int) -> list[tuple[float, float]]:
    """One-thread step times of :data:`SHAPES` while ``lanes - 1`` probes run the same step."""
    code = "from sweeplab.engine._calibrate import probe_main; probe_main()"
    env = child_env()
    probes = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for _ in range(lanes - 1)
    ]
    out: list[tuple[float, float]] = []
    try:
        for members, batch, width in SHAPES:
            for probe in probes:
                assert probe.stdin is not None
                probe.stdin.write(f"{members} {batch} {width}\n")
                probe.stdin.flush()
            for probe in probes:
                assert probe.stdout is not None
                if probe.stdout.readline().strip() != "ready":
                    raise OSError("a calibration probe exited")
            work = step_work(members, batch, [784, width, width, 10])
            out.append((work, _time_step(members, batch, width, 1)))
    finally:
        for probe in probes:
            with contextlib.suppress(OSError):
                if probe.stdin is not None:
                    probe.stdin.close()
            try:
                probe.wait(timeout=10)
            except subprocess.TimeoutExpired:
                probe.kill()
                probe.wait()
    return out


def measure() -> Calibration:
    """Time the :data:`SHAPES` steps with one thread and torch's default, and with
    one thread in each of ``min(default, MAX_LANES)`` concurrent lanes (POSIX)."""
    default = torch.get_num_threads()
    counts = sorted({1, default})
    points: list[tuple[float, int, float]] = []
    lane_points: list[tuple[float, float]] = []
    lanes = min(default, MAX_LANES, os.cpu_count() or 1)
    with torch.enable_grad(), flush_denormals(torch.device("cpu")):
        for members, batch, width in SHAPES:
            work = step_work(members, batch, [784, width, width, 10])
            for n in counts:
                points.append((work, n, _time_step(members, batch, width, n)))
        if lanes >= 2 and os.name == "posix":
            try:
                lane_points = _lane_times(lanes)
            except OSError as exc:
                _log.info("could not time lanes (%s); they will not be used", exc)
    fitted = fit(_machine_key(), points, default)
    if not lane_points:
        return fitted
    return dataclasses.replace(fitted, lanes=lanes, lane_points=tuple(lane_points))


def fit(key: str, points: list[tuple[float, int, float]], default: int) -> Calibration:
    """A :class:`Calibration` from timings ``(work, threads, seconds)``.

    ``small_step`` lies halfway (geometrically) between the first size from
    which more threads were faster (by 5 %, at that size and at most of the
    sizes from it up, so one noisy timing does not decide) and the size below
    it; the overhead and rate are a
    least-squares line through the best time of each size.
    """
    works = sorted({w for w, _, _ in points})
    best: dict[float, float] = {}
    wins: list[bool] = []
    for w in works:
        one = min((t for pw, n, t in points if pw == w and n == 1), default=math.inf)
        many = min((t for pw, n, t in points if pw == w and n > 1), default=math.inf)
        best[w] = min(one, many)
        wins.append(many < one * 0.95)
    small_step = math.inf
    for i, w in enumerate(works):
        later = wins[i:]
        if wins[i] and 2 * sum(later) > len(later):
            small_step = math.sqrt(works[i - 1] * w) if i > 0 else w / 2
            break
    xs, ys = works, [best[w] for w in works]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0
    if slope <= 0:
        slope = DEFAULT.overhead_s / DEFAULT.overhead_work
    intercept = max(1e-5, my - slope * mx)
    return Calibration(key, small_step, intercept, 1.0 / slope, default, tuple(points))


def _read(path: Path) -> Calibration | None:
    try:
        raw = json.loads(path.read_text())
        raw["points"] = tuple(tuple(p) for p in raw["points"])
        raw["lane_points"] = tuple(tuple(p) for p in raw.get("lane_points", ()))
        raw["small_step"] = float(raw["small_step"])
        return Calibration(**raw)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def calibration(device: torch.device) -> Calibration:
    """This machine's calibration for ``device`` (measured once, then cached).

    Off the CPU, and with ``SWEEPLAB_CALIBRATION=off``, it is :data:`DEFAULT`.
    """
    if device.type != "cpu" or os.environ.get("SWEEPLAB_CALIBRATION", "").lower() in (
        "off",
        "0",
        "false",
    ):
        return DEFAULT
    key = _machine_key()
    if key in _memo:
        return _memo[key]
    path = cache_dir() / f"calibration-{key}.json"
    found = _read(path)
    busy = other_load()
    quiet = busy is not None and busy < 0.5
    if found is not None and found.key == key and not (found.busy and quiet):
        _memo[key] = found
        return found
    start = time.perf_counter()
    measured = dataclasses.replace(measure(), busy=not quiet)
    _log.info(
        "calibrated this CPU in %.1fs%s: more threads pay from %.3g multiply-adds a step, "
        "%.2g s fixed per step, %.3g multiply-adds/s",
        time.perf_counter() - start,
        " (busy)" if measured.busy else "",
        measured.small_step,
        measured.overhead_s,
        measured.rate,
    )
    _memo[key] = measured
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = asdict(measured)
        raw["small_step"] = str(measured.small_step)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(raw, indent=1) + "\n")
        tmp.replace(path)
    except OSError as exc:
        _log.info("could not cache the calibration in %s: %s", path, exc)
    return measured
