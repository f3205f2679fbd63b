"""A real local Ray cluster for tests and benchmarks: nodes on 127.0.0.1, stopped after.

Each node is a ``ray start --block`` in its own process group, so a test can kill a
whole node (``os.killpg(node.proc.pid, SIGKILL)``) as a crash or a lost machine would.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sweeplab
from tests.postgres import free_port

SRC = str(Path(sweeplab.__file__).resolve().parents[1])


@dataclass
class RayNode:
    """A running node: the cluster's address and this node's ``ray start`` process."""

    address: str
    proc: subprocess.Popen[bytes]


def _env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path}


@contextlib.contextmanager
def ray_node(head: str | None = None, num_cpus: int = 2) -> Iterator[RayNode]:
    """A head node (``head=None``, ready when its port accepts) or a worker node joining
    ``head`` (ready when the cluster counts its CPUs); killed with its group after."""
    temp = Path(tempfile.mkdtemp(prefix="slray-"))
    cmd = [str(Path(sys.executable).parent / "ray"), "start", "--block"]
    cmd += ["--node-ip-address=127.0.0.1", f"--num-cpus={num_cpus}", "--num-gpus=0"]
    cmd += ["--disable-usage-stats"]
    if head is None:
        port = free_port()
        address = f"127.0.0.1:{port}"
        cmd += ["--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp}"]
    else:
        address = head
        cmd += [f"--address={head}"]
    log = temp / "ray-start.out"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            env=_env(),
            stdout=subprocess.DEVNULL if head is None else out,
            stderr=subprocess.DEVNULL if head is None else subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        if head is None:
            _wait_port(proc, port)
        else:
            _wait_text(proc, log, b"Ray runtime started")
        yield RayNode(address, proc)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            # After a driver used it, 'ray start --block' can take 30 s to stop on SIGTERM
            # (it did in the old fixture too: a minute of make test); a test cluster can
            # be killed instead.
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        time.sleep(1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)


def _wait_port(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.time() + 120
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert proc.poll() is None, "ray start failed"
        time.sleep(0.5)
    raise TimeoutError("the Ray head did not open its port within 120 s")


def _wait_text(proc: subprocess.Popen[bytes], log: Path, text: bytes) -> None:
    deadline = time.time() + 120
    while text not in log.read_bytes():
        assert proc.poll() is None, "ray start failed: " + log.read_text(errors="replace")
        assert time.time() < deadline, "the Ray node did not start within 120 s"
        time.sleep(0.2)
