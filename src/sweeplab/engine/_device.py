"""Per-device settings the engine trains with."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["SMALL_STEP", "configure_device", "cpu_threads", "thread_count"]

SMALL_STEP = 5e6
"""Multiply-adds per step below which one CPU thread is fastest.

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


def thread_count(step_work: float, default: int | None = None) -> int:
    """Intra-op threads for a CPU step of ``step_work`` multiply-adds.

    Small steps get one thread. Larger ones get torch's default, less the cores
    other processes keep busy (1-minute load average): OpenMP threads that wait
    for a descheduled peer spin, and on an oversubscribed 2-core machine a step
    with 2 threads was measured 5-10x slower than with 1.
    """
    default = default or torch.get_num_threads()
    if step_work < SMALL_STEP:
        return 1
    try:
        busy = os.getloadavg()[0]
    except OSError:
        return default
    cores = os.cpu_count() or default
    free = int(cores - busy + 1)
    return max(1, min(default, free))


@contextmanager
def cpu_threads(device: torch.device, step_work: float) -> Iterator[int]:
    """Use :func:`thread_count` threads for the block when training on the CPU."""
    before = torch.get_num_threads()
    n = thread_count(step_work, before) if device.type == "cpu" else before
    if n != before:
        torch.set_num_threads(n)
    try:
        yield n
    finally:
        if n != before:
            torch.set_num_threads(before)
