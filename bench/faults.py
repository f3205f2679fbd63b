"""The fault table: every fault a study meets, and whether anything was lost or run twice.

Each fault hits a real ``sweeplab run`` (subprocesses, as a user runs it) of a
12-point grid on digits; then the same command is run again, as the user
would, and the study is audited: every grid point must have exactly one
record, records written before the fault must be unchanged, and the storage
must agree with the records. Prints one row per fault and writes
``docs/faults.md`` (``--write``). The "clean" row is the baseline: the same
study without a fault, timed in the same run.

    python bench/faults.py --write docs/faults.md        # ~6-9 min on 2 busy cores
    python bench/faults.py --only ray_head ray_node       # the Ray rows (~2.5 min)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import optuna

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.postgres import postgres_server  # noqa: E402
from tests.ray_cluster import ray_node  # noqa: E402

STUDY = """
[study]
name = "{name}"
seed = 11
{storage}
[data]
dataset = "digits"
[params]
epochs = {epochs}
units = 32
[search]
strategy = "grid"
group_size = 2
[search.space]
lr = [1e-3, 3e-3, 1e-2, 3e-2]
batch_size = [16, 32, 64]
[track]
tensorboard = false
"""
BUDGET = 12


@dataclass
class Row:
    """One fault: what happened and what the audit found after recovery."""

    fault: str
    fault_exit: str = "-"
    recover_exit: str = "-"
    lost: int | None = None
    duplicated: int | None = None
    traceback: bool = False
    recover_s: float | None = None
    note: str = ""
    stderr: list[str] = field(default_factory=list)


class Case:
    """A fresh study directory and the commands a user would type on it."""

    def __init__(self, base: Path, name: str, epochs: int, storage: str = "") -> None:
        self.dir = base / name
        self.dir.mkdir(parents=True)
        self.name = name
        self.file = self.dir / f"{name}.toml"
        text = STUDY.format(name=name, epochs=epochs, storage=storage)
        self.file.write_text(text)
        self.root = self.dir / "runs" / name
        self.row = Row(name)
        self.kept: dict[str, bytes] = {}

    def start(self, *extra: str, command: str = "run") -> subprocess.Popen[bytes]:
        target = str(self.file) if command == "run" else str(self.root)
        quiet = ["-q"] if command == "run" else []
        return subprocess.Popen(
            [sys.executable, "-m", "sweeplab", command, target, *quiet, *extra],
            cwd=self.dir,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def finish(self, proc: subprocess.Popen[bytes], timeout: float = 600) -> int:
        code = proc.wait(timeout=timeout)
        if proc.stderr is not None:
            self.row.stderr.append(proc.stderr.read().decode(errors="replace"))
        return code

    def said(self, text: str) -> str:
        """``yes`` if a command of this case printed ``text`` on stderr, else ``NO``."""
        return "yes" if any(text in err for err in self.row.stderr) else "NO"

    def records(self) -> dict[str, bytes]:
        return {p.parent.name: p.read_bytes() for p in self.root.glob("trials/*/record.json")}

    def wait_records(self, n: int, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.time() + 300
        while len(self.records()) < n and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        self.kept = self.records()

    def recover(self, *extra: str) -> None:
        start = time.perf_counter()
        code = self.finish(self.start(*extra))
        self.row.recover_s = (self.row.recover_s or 0.0) + time.perf_counter() - start
        self.row.recover_exit = str(code)

    def audit(self, storage: optuna.storages.BaseStorage | None = None) -> Row:
        """Lost: grid points without a record, or told done without one. Duplicated:
        points with two records, or records written before the fault that changed."""
        records = [json.loads(text) for text in self.records().values()]
        points = Counter(r["point_key"] for r in records)
        changed = sum(self.records().get(n) != text for n, text in self.kept.items())
        if storage is None:
            storage = optuna.storages.JournalStorage(
                optuna.storages.journal.JournalFileBackend(str(self.root / "optuna.log"))
            )
        trials = optuna.load_study(study_name=self.name, storage=storage).get_trials()
        void = {int(p.name[:5]) for p in (self.root / "quarantine").glob("*-record.json*")}
        done = {t.number for t in trials if t.state.name == "COMPLETE"} - void
        unrecorded = len(done - {r["number"] for r in records})
        self.row.lost = BUDGET - len(points) + unrecorded
        self.row.duplicated = sum(c - 1 for c in points.values()) + changed
        self.row.traceback = any("Traceback" in text for text in self.row.stderr)
        return self.row


def _interrupted(base: Path, signum: int, name: str, workers: int = 1) -> Row:
    case = Case(base, name, epochs=12)
    extra = ("--workers", str(workers)) if workers > 1 else ()
    proc = case.start(*extra)
    case.wait_records(2, proc)
    proc.send_signal(signum)
    case.row.fault_exit = str(case.finish(proc))
    if workers > 1:
        time.sleep(1)
        left = [p for p in Path("/proc").glob("[0-9]*") if _is_worker_of(p, case.root)]
        case.row.note = f"{len(left)} worker(s) left running; "
    case.row.note += f"resume hint: {case.said('run the same command again to resume')}"
    case.recover(*extra)
    return case.audit()


def _is_worker_of(proc_dir: Path, root: Path) -> bool:
    with contextlib.suppress(OSError):
        cmdline = (proc_dir / "cmdline").read_bytes().split(b"\0")
        return b"worker" in cmdline and str(root).encode() in cmdline
    return False


def _killed_then(base: Path, name: str, damage: Callable[[Case], str]) -> Row:
    """Kill -9 a run after two records, damage its files, then run the same command again."""
    case = Case(base, name, epochs=12)
    proc = case.start()
    case.wait_records(2, proc)
    proc.send_signal(signal.SIGKILL)
    case.finish(proc)
    case.row.fault_exit = damage(case) or "-9"
    case.recover()
    if damage is _torn:
        case.row.note = f"cut with a warning: {case.said('unreadable byte(s) off its end')}"
    if damage is _bad_record:
        case.row.note = f"quarantined: {'yes' if (case.root / 'quarantine').is_dir() else 'NO'}"
    return case.audit()


def _torn(case: Case) -> str:
    journal = case.root / "optuna.log"
    journal.write_bytes(journal.read_bytes()[:-37])
    return ""


def _mid_journal(case: Case) -> str:
    journal = case.root / "optuna.log"
    lines = journal.read_bytes().splitlines(keepends=True)
    lines[len(lines) // 2] = b'{"op_code": 6, "trial_id\x00\n'
    journal.write_bytes(b"".join(lines))
    refused = case.finish(case.start())
    start = time.perf_counter()
    doctor = case.finish(case.start(command="doctor"))
    case.row.recover_s = time.perf_counter() - start
    case.row.note = f"run refused (exit {refused}); doctor exit {doctor}"
    return str(refused)


def _bad_record(case: Case) -> str:
    first = sorted(case.root.glob("trials/*/record.json"))[0]
    first.write_bytes(first.read_bytes()[:-30])
    case.kept.pop(first.parent.name, None)
    return ""


def _kills(base: Path, kills: int) -> Row:
    case = Case(base, f"kill9-x{kills}", epochs=30)
    rng = random.Random(2024)
    done = 0
    while done < kills:
        proc = case.start()
        time.sleep(rng.uniform(1.5, 3.0))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        case.finish(proc)
        done += 1
    case.kept = case.records()
    case.row.fault_exit = "-9"
    case.row.note = f"{done} kills"
    case.recover()
    return case.audit()


def _concurrent(base: Path) -> Row:
    case = Case(base, "4-processes", epochs=4)
    start = time.perf_counter()
    codes = [case.finish(p) for p in [case.start() for _ in range(4)]]
    case.row.recover_s = time.perf_counter() - start
    case.row.recover_exit = ",".join(map(str, codes))
    case.row.note = "recover s: the whole study, 4 processes at once"
    return case.audit()


@contextlib.contextmanager
def _tmpfs(size: str) -> Iterator[Path | None]:
    path = Path(tempfile.mkdtemp(prefix="sweeplab-disk-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)])
    try:
        yield path if mounted.returncode == 0 else None
    finally:
        if mounted.returncode == 0:
            subprocess.run(["umount", "-l", str(path)], check=False)
        shutil.rmtree(path, ignore_errors=True)


def _full_disk(base: Path) -> Row:
    with _tmpfs("16m") as disk:
        if disk is None:
            return Row("full disk (tmpfs)", note="not run: mounting a tmpfs is not permitted")
        # What the whole study writes there, measured on it; then leave room for half.
        reference = Case(disk, "reference", epochs=1)
        before = _free(disk)
        reference.finish(reference.start())
        needed = before - _free(disk)
        shutil.rmtree(reference.dir)
        case = Case(disk, "full-disk", epochs=4)
        (disk / "ballast").write_bytes(b"\0" * (_free(disk) - needed // 2))
        case.row.fault_exit = str(case.finish(case.start()))
        full = case.said("but it is full")
        case.row.note = f"tmpfs with {needed // 2 // 1024} KiB free; one line: {full}"
        (disk / "ballast").unlink()
        case.kept = case.records()
        case.recover()
        return case.audit()


def _free(path: Path) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def _postgres(base: Path) -> Row:
    with postgres_server() as server:
        case = Case(base, "postgres-restart", epochs=12, storage=f'storage = "{server.url}"')
        proc = case.start("--workers", "2")
        case.wait_records(2, proc)
        start = time.perf_counter()
        server.stop()
        time.sleep(3)
        server.start()
        case.row.recover_exit = str(case.finish(proc))
        case.row.recover_s = time.perf_counter() - start
        retried = case.said("storage reachable again")
        case.row.note = f"server down 3 s; the same run goes on; retry logged: {retried}"
        return case.audit(optuna.storages.RDBStorage(server.url))


def _ray_head_killed(base: Path) -> Row:
    """Kill -9 the head (its whole process group) of the cluster a run uses; then the
    same command again on a new head."""
    case = Case(base, "ray-head-killed", epochs=12)
    with ray_node() as head:
        proc = case.start("--backend", "ray", "--address", head.address)
        case.wait_records(2, proc)
        os.killpg(head.proc.pid, signal.SIGKILL)
        start = time.perf_counter()
        case.row.fault_exit = str(case.finish(proc))
        stopped = time.perf_counter() - start
    line = case.said("error: the Ray cluster was lost")
    with ray_node() as fresh:
        case.recover("--backend", "ray", "--address", fresh.address)
    case.row.note = f"driver stopped {stopped:.1f} s after the kill; one line: {line}; "
    case.row.note += "resumed on a new head"
    return case.audit()


def _ray_node_killed(base: Path) -> Row:
    """Kill -9 a worker node (1 CPU of 2) while its actor trains: the run goes on, and
    the actor that replaces it (with no room left) is not waited for."""
    case = Case(base, "ray-node-killed", epochs=30)
    with ray_node(num_cpus=1) as head, ray_node(head.address, num_cpus=1) as node:
        proc = case.start("--backend", "ray", "--address", head.address, "--workers", "2")
        case.wait_records(2, proc)
        deadline = time.time() + 120  # both actors at work: one of them on the node
        while len(list((case.root / "workers").glob("*"))) < 2 and time.time() < deadline:
            time.sleep(0.05)
        os.killpg(node.proc.pid, signal.SIGKILL)
        start = time.perf_counter()
        case.row.recover_exit = str(case.finish(proc))
        case.row.recover_s = time.perf_counter() - start
    replaced = case.said("died") + "/" + case.said("starting a new one")
    case.row.note = f"30 epochs; the same run goes on; actor death logged/replaced: {replaced}"
    return case.audit()


def _clean(base: Path) -> Row:
    case = Case(base, "clean", epochs=12)
    case.recover()
    return case.audit()


def table(rows: Sequence[Row], clean_s: float) -> str:
    head = "| fault | exit at fault | exit on recovery | lost | duplicated | traceback |"
    head += " recover s | × clean | note |\n|---|---|---|---|---|---|---|---|---|\n"
    lines = []
    for r in rows:
        ratio = f"{r.recover_s / clean_s:.2f}" if r.recover_s is not None else "-"
        secs = f"{r.recover_s:.1f}" if r.recover_s is not None else "-"
        lines.append(
            f"| {r.fault} | {r.fault_exit} | {r.recover_exit} | "
            f"{'-' if r.lost is None else r.lost} | "
            f"{'-' if r.duplicated is None else r.duplicated} | "
            f"{'-' if r.lost is None else 'yes' if r.traceback else 'no'} | "
            f"{secs} | {ratio} | {r.note} |"
        )
    return head + "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> list[Row]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--write", type=Path, help="write the table into this Markdown file")
    ap.add_argument("--only", nargs="*", help="run only these faults (by function name)")
    args = ap.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="sweeplab-faults-"))
    faults: dict[str, Callable[[], Row]] = {
        "clean": lambda: _clean(base),
        "kills": lambda: _kills(base, args.kills),
        "concurrent": lambda: _concurrent(base),
        "sigint": lambda: _interrupted(base, signal.SIGINT, "sigint"),
        "sigterm": lambda: _interrupted(base, signal.SIGTERM, "sigterm"),
        "sigterm_workers": lambda: _interrupted(base, signal.SIGTERM, "sigterm-2-workers", 2),
        "torn": lambda: _killed_then(base, "torn-journal-tail", _torn),
        "mid": lambda: _killed_then(base, "journal-damaged-mid-file", _mid_journal),
        "record": lambda: _killed_then(base, "unreadable-record", _bad_record),
        "full_disk": lambda: _full_disk(base),
        "postgres": lambda: _postgres(base),
        "ray_head": lambda: _ray_head_killed(base),
        "ray_node": lambda: _ray_node_killed(base),
    }
    rows = []
    for key, run in faults.items():
        if args.only and key not in args.only and key != "clean":
            continue
        try:
            row = run()
        except Exception as exc:  # a broken fault run is a row, not the end of the table
            row = Row(key, note=f"bench error: {type(exc).__name__}: {exc}")
        rows.append(row)
        print(table([row], rows[0].recover_s or 1.0).splitlines()[-1], flush=True)
        for text in row.stderr:
            if "Traceback" in text:
                print(text[-3000:], file=sys.stderr)
    text = table(rows, rows[0].recover_s or 1.0)
    print(text)
    if args.write:
        args.write.write_text(_document(text, args.kills))
    shutil.rmtree(base, ignore_errors=True)
    return rows


def _document(text: str, kills: int) -> str:
    return f"""# Faults survived

Written by `python bench/faults.py --write docs/faults.md` (kills: {kills}). Each fault
hits a `sweeplab run` of a 12-point grid on digits (subprocesses, as a user runs it);
then the same command is run again and the study is audited. **lost**: grid points
without a record, plus trials the storage says finished without a record;
**duplicated**: points with two records, plus records written before the fault that
changed; **traceback**: whether any command printed one; **recover s**: wall time of
the command(s) that brought the study back to complete (× clean: against the same
study run without a fault in the same session). Exit codes: 130 SIGINT, 143 SIGTERM,
-9 killed, 1 a run stopped with one error line (full disk; damaged journal; Ray
cluster lost). The Ray rows run a local cluster (`ray start`, 2 CPUs) and kill a
node's whole process group.

{text}
Measured on a shared 2-core machine with other work running: the seconds are noisy;
the counts are not.
"""


if __name__ == "__main__":
    main()
