"""Backends: how the processes that work on one study are started.

Every backend runs the same worker loop (:func:`sweeplab.runner.join`)
against the study's shared storage and directory; the storage does the
coordination. ``local`` starts worker subprocesses on this machine (one per
GPU by default); ``ray`` starts one Ray actor per GPU (or per N CPUs) on a
cluster and replaces actors that die.
"""

from sweeplab.backends._local import auto_workers, run_local, worker_devices
from sweeplab.backends._ray import run_ray

__all__ = ["auto_workers", "run_local", "run_ray", "worker_devices"]
