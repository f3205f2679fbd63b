"""A real PostgreSQL server for tests: its own data directory, 127.0.0.1 only, stopped after."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PG_BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), default=Path("/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class Server:
    """A running server: its URL, and how to stop and start it again (same data)."""

    url: str
    data: Path
    options: str
    log: Path

    def _ctl(self, *args: str) -> None:
        cmd = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args]
        subprocess.run(_as_postgres(cmd), check=True, capture_output=True)

    def stop(self) -> None:
        """Stop at once, dropping every connection (``-m fast``)."""
        self._ctl("-m", "fast", "-w", "stop")

    def start(self) -> None:
        self._ctl("-o", self.options, "-w", "-l", str(self.log), "start")


@contextlib.contextmanager
def postgres_server() -> Iterator[Server]:
    """Start a throwaway server with a database ``sw`` and yield it; stop it after."""
    base = Path(tempfile.mkdtemp(prefix="sweeplab-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        base.chmod(0o755)
        for p in (base, sock):
            os.chown(p, user.pw_uid, user.pw_gid)
    port = free_port()
    subprocess.run(
        _as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "sweeplab"]),
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c fsync=off"
    server = Server(f"postgresql://sweeplab@127.0.0.1:{port}/sw", data, options, base / "log")
    server.start()
    try:
        subprocess.run(
            [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "sweeplab", "sw"],
            check=True,
            capture_output=True,
        )
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            server.stop()
        shutil.rmtree(base, ignore_errors=True)
