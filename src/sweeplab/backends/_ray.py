"""The Ray backend: one actor per GPU (or per N CPUs), replaced when it dies.

Ray is used as the process scheduler; the study's storage does the
coordination, as in Optuna's distributed mode. Each actor runs the same
worker loop as ``sweeplab worker`` (ask through the storage, train fused
groups, report every epoch for pruning, tell), so pruning decisions see the
other workers' intermediate values without a round trip through the driver.
The driver prepares the study, starts the actors, reports progress from the
study directory and starts a new actor for each one that dies; the dead
actor's RUNNING trials are settled by the owner rules and run again.

When the head is lost (its GCS port stays closed), the cluster's actors are gone
with it and Ray itself would hang for a minute and then end the process with a C++
log line. The driver checks the head whenever an actor dies (and every few seconds)
and stops with one :class:`~sweeplab.errors.ClusterLostError` line instead: every
finished trial has its record and its tell in the study's storage, and the next
``run`` (on a new cluster or locally) settles the dead actors' RUNNING trials.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sweeplab
from sweeplab.errors import ClusterLostError, SpecError, StudyError
from sweeplab.spec import StudySpec
from sweeplab.store import Study
from sweeplab.study import Callback, RunEvent, init_storage, join, prepare, study_budget

__all__ = ["run_ray"]

_log = logging.getLogger(__name__)

MAX_REPLACEMENTS = 100
#: The head must refuse connections this long before the cluster counts as lost.
HEAD_LOST_AFTER_S = 3.0
#: How often the driver checks the head while no actor dies.
HEAD_CHECK_EVERY_S = 5.0


class _Worker:
    """A Ray actor that works on one study until its budget is used up."""

    def pid(self) -> int:
        return os.getpid()

    def work(self, root: str, device: str) -> int:
        join(root, device=device)
        return os.getpid()


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise SpecError(
            "the ray backend needs Ray, but it is not installed: pip install 'sweeplab[ray]'"
        ) from None
    return ray


def _reachable(address: str, timeout: float = 2.0) -> bool:
    """Whether something accepts connections at ``host:port`` (the head's GCS)."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def _head_lost(address: str) -> bool:
    """Whether the head at ``address`` stays unreachable for :data:`HEAD_LOST_AFTER_S`."""
    deadline = time.monotonic() + HEAD_LOST_AFTER_S
    while not _reachable(address):
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.5)
    return False


def _lost(root: Path, address: str) -> ClusterLostError:
    return ClusterLostError(
        f"the Ray cluster was lost (its head at {address} cannot be reached) and its actors "
        f"with it; finished trials are saved in {root}; run the same command again "
        f"(with or without --backend ray) to resume"
    )


def _drop_unstarted(ray: Any, pending: dict[Any, tuple[int, Any, Any]]) -> None:
    """Stop waiting for actors never placed, once one actor found the budget used up.

    A replacement for an actor lost with its node may never find room (the node's
    CPUs or GPUs are gone); without this the driver would wait for it forever. One
    placed just now owns no trial yet, or one that the final ``join`` settles.
    """
    for ref, (slot, actor, started) in list(pending.items()):
        if not ray.wait([started], timeout=0)[0]:
            _log.info("ray: actor in slot %d was never placed; the study needs it no more", slot)
            ray.kill(actor)
            del pending[ref]


def _progress(root: Path, total: int, maximize: bool) -> RunEvent:
    records = Study(root).records()
    values = [r.objective for r in records if r.state == "complete" and r.objective is not None]
    best = (max(values) if maximize else min(values)) if values else None
    return RunEvent("trial", len(records), total, best)


def run_ray(
    spec: StudySpec | str | Path,
    *,
    address: str | None = None,
    workers: int | None = None,
    cpus_per_worker: float = 1.0,
    runs_dir: str | Path = "runs",
    overrides: Iterable[str] = (),
    callback: Callback | None = None,
) -> Study:
    """Run a study on a Ray cluster and return it.

    Args:
        address: the cluster (``auto``, ``host:port``); ``None`` starts a
            local Ray instance.
        workers: number of actors; default one per GPU of the cluster, or
            one per ``cpus_per_worker`` CPUs when it has none.
        cpus_per_worker: CPUs reserved by each actor.

    The study directory must be on a file system that every node sees
    (records and heartbeats are written there); with several nodes the
    storage must be an RDB URL (``study.storage``).
    """
    ray = _import_ray()
    spec, root, dataset, _ = prepare(spec, runs_dir=runs_dir, overrides=overrides)
    root = root.resolve()
    init_storage(root)
    if not ray.is_initialized():
        src = str(Path(sweeplab.__file__).resolve().parents[1])
        path = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)
        ray.init(
            address=address,
            log_to_driver=False,
            runtime_env={"env_vars": {"PYTHONPATH": path}},
        )
    head = str(ray.get_runtime_context().gcs_address)
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    use_gpu = gpus > 0 and spec.study.device in ("auto", "cuda")
    if use_gpu:
        count = workers or gpus
        options: dict[str, Any] = {"num_gpus": 1, "num_cpus": cpus_per_worker}
        device = "cuda"
    else:
        count = workers or max(1, int(resources.get("CPU", 1) // cpus_per_worker))
        options = {"num_cpus": cpus_per_worker}
        device = "cpu" if spec.study.device == "auto" else spec.study.device
    if count < 1:
        raise SpecError(f"workers must be at least 1, but got {count}")
    actor_class = ray.remote(_Worker).options(max_restarts=0, **options)
    total = study_budget(spec)
    maximize = spec.direction == "maximize"
    # work ref -> (slot, actor, ref of its pid(): ready once the actor was placed and runs)
    pending: dict[Any, tuple[int, Any, Any]] = {}

    def start(slot: int) -> None:
        actor = actor_class.remote()
        started = actor.pid.remote()
        pending[actor.work.remote(str(root), device)] = (slot, actor, started)

    for slot in range(count):
        start(slot)
    _log.info("ray: %d actor(s) on %s, %s", count, device, options)
    if callback is not None:
        callback(RunEvent("start", len(Study(root).records()), total))
    replaced = 0
    last = -1
    checked = time.monotonic()
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
        if time.monotonic() - checked > HEAD_CHECK_EVERY_S:
            checked = time.monotonic()
            if _head_lost(head):
                raise _lost(root, head)
        if callback is not None:
            event = _progress(root, total, maximize)
            if event.done != last:
                last = event.done
                callback(event)
        for ref in ready:
            slot, _actor, _ = pending.pop(ref)
            try:
                ray.get(ref)
                _drop_unstarted(ray, pending)
            except ray.exceptions.RayActorError as exc:
                if _head_lost(head):
                    raise _lost(root, head) from None
                replaced += 1
                if replaced > MAX_REPLACEMENTS:
                    raise StudyError(
                        f"ray actors must stay alive, but {replaced} died; last: {exc}"
                    ) from None
                _log.warning("ray: actor in slot %d died (%s); starting a new one", slot, exc)
                time.sleep(0.5)
                start(slot)
            except ray.exceptions.RayTaskError as exc:
                raise StudyError(f"a ray worker failed: {exc}") from None
    study = join(root, device="cpu", dataset=dataset)
    if callback is not None:
        event = _progress(root, total, maximize)
        callback(RunEvent("end", event.done, total, event.best))
    return study
