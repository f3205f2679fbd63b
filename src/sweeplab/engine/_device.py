"""Per-device settings the engine trains with: fast paths, CPU threads, denormals."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

__all__ = [
    "SMALL_STEP",
    "configure_device",
    "cpu_threads",
    "flush_denormals",
    "other_load",
    "thread_count",
]

SMALL_STEP = 5e6
"""Multiply-adds per step below which one CPU thread is fastest, when no
calibration says otherwise (:mod:`sweeplab.engine._calibrate` measures it).

For steps this small the OpenMP fork/join of every op costs more than it
splits; measured on the bench machine (2 cores) a digits step with 2 threads
took ~90 ms against ~20 ms with 1 when the machine was busy."""

_log = logging.getLogger(__name__)


def configure_device(device: torch.device) -> dict[str, object]:
    """Turn on the fast paths ``device`` has and return what was set.

    On CUDA devices of compute capability 8.0 or newer (Ampere, Hopper, ...)
    float32 matrix products use TF32 tensor cores; float64 studies are not
    affected. Nothing changes on the CPU.
    """
    settings: dict[str, object] = {}
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        major, _minor = torch.cuda.get_device_capability(index)
        if major >= 8:
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
            settings["tf32"] = True
        _log.info("training on %s: %s", torch.cuda.get_device_name(index), settings)
    return settings


def _running_here() -> int | None:
    """Threads of this process in state R (running or runnable), from /proc."""
    try:
        tasks = list(Path("/proc/self/task").iterdir())
    except OSError:
        return None
    running = 0
    for task in tasks:
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        if stat[stat.rfind(")") + 2 : stat.rfind(")") + 3] == "R":
            running += 1
    return running


def other_load(samples: int = 5, pause: float = 0.002) -> float | None:
    """Runnable threads of *other* processes right now (mean of ``samples`` looks).

    The 1-minute load average this used before counts the study's own threads,
    so a busy study talked itself down to one thread. Linux's
    ``/proc/loadavg`` gives the runnable threads of the whole machine at this
    instant; those of this process (``/proc/self/task/*/stat`` in state R) are
    subtracted. ``None`` where /proc is missing (not Linux).
    """
    seen: list[int] = []
    for i in range(samples):
        try:
            running = int(Path("/proc/loadavg").read_text().split()[3].split("/")[0])
        except (OSError, IndexError, ValueError):
            return None
        own = _running_here()
        if own is None:
            return None
        seen.append(max(0, running - own))
        if i + 1 < samples:
            time.sleep(pause)
    return sum(seen) / len(seen)


def thread_count(
    step_work: float, default: int | None = None, small_step: float | None = None
) -> int:
    """Intra-op threads for a CPU step of ``step_work`` multiply-adds.

    Steps below ``small_step`` (the measured crossover of the machine's
    calibration, :data:`SMALL_STEP` without one) get one thread. Larger ones
    get torch's default, less the cores other processes keep busy now
    (:func:`other_load`, which leaves out this process): OpenMP threads that
    wait for a descheduled peer spin, and on a 2-core machine with another
    busy process a step with 2 threads was measured 25x slower than with 1.
    """
    default = default or torch.get_num_threads()
    if step_work < (SMALL_STEP if small_step is None else small_step):
        return 1
    busy = other_load()
    if busy is None:
        return default
    cores = os.cpu_count() or default
    free = int(cores - busy + 0.5)
    return max(1, min(default, free))


def _denormals_flushed() -> bool:
    """Whether this thread flushes denormal floats to zero (torch has no getter)."""
    return bool(torch.tensor([1e-39], dtype=torch.float32).mul(1.0).item() == 0.0)


@contextmanager
def flush_denormals(device: torch.device) -> Iterator[None]:
    """Flush denormal floats to zero for the block when training on the CPU.

    Adam's moments of weights whose gradient is always zero (the blank border
    pixels of an image) decay by 0.9 per step into denormal range after ~800
    steps, and CPU arithmetic on denormals is ~100x slower: profiled on
    Fashion-MNIST at batch 4, the step took 3.0 ms with denormals and 1.0 ms
    with them flushed (one thread). Values that small are zero for training.
    """
    if device.type != "cpu":
        yield
        return
    before = _denormals_flushed()
    if not before:
        torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if not before:
            torch.set_flush_denormal(False)


@contextmanager
def cpu_threads(
    device: torch.device,
    step_work: float,
    threads: int | None = None,
    small_step: float | None = None,
) -> Iterator[int]:
    """Use ``threads`` (or :func:`thread_count`) threads for the block on the CPU.

    Yields the thread count in use (torch's current one off the CPU).
    """
    before = torch.get_num_threads()
    if device.type != "cpu":
        n = before
    elif threads is not None:
        n = max(1, int(threads))
    else:
        n = thread_count(step_work, before, small_step)
    if n != before:
        torch.set_num_threads(n)
    try:
        yield n
    finally:
        if n != before:
            torch.set_num_threads(before)
