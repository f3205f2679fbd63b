"""The study's index: ``index.jsonl`` and ``summary.csv``, appended as trials finish.

``trials/<n>/record.json`` stays the source of truth (written last, fsynced,
its presence means the trial finished). Once the trials of a batch are
recorded, :func:`append_index` appends each record as one line of
``index.jsonl`` and one row of ``summary.csv`` (a fused group's 256 trials in
one write of each), under an ``flock`` on the index, so several workers never
interleave lines. Until then a reader finds the trial's folder unindexed and
reads its ``record.json``. Neither file is fsynced: both are derived, and a line lost
to a crash is found again (see below).

Readers (``status``, ``export``, ``report``, ``Study.records``) read the index
in one pass instead of opening every ``record.json``; only trial folders the
index does not name are read one by one (a trial whose line a crash lost, or
a study written before the index existed). ``StudyDir.sync_index`` appends
those lines and rewrites the summary once per run (:func:`index_missing`),
under the claim lock, leaving the trials another live process owns to it.

The summary's columns depend on every trial (searched depths, metric names,
user attributes). A row whose columns the header already has is appended; a
row with a new column rewrites the file from the index, which happens a few
times per study, not per trial, so appending costs the same at trial 10 and
trial 10,000.
"""

from __future__ import annotations

import csv
import fcntl
import functools
import io
import json
import logging
import math
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import IO, Any

from sweeplab.spec import MAX_DEPTH, param_names
from sweeplab.store._files import json_line, write_text
from sweeplab.store._records import TrialRecord, trial_name

__all__ = [
    "INDEX_FILE",
    "SUMMARY_FILE",
    "append_index",
    "index_missing",
    "read_index",
    "rewrite_summary",
    "summary_rows",
]

_log = logging.getLogger(__name__)

INDEX_FILE = "index.jsonl"
SUMMARY_FILE = "summary.csv"
_PARAM_ORDER = [p for p in param_names() if p != "units"]
_FIELDS = {f.name for f in fields(TrialRecord)}


# ---- the summary's rows ----------------------------------------------------------


def _depth(r: TrialRecord) -> int:
    return int(r.params.get("depth", 1))


@functools.cache
def _param_columns(depth_max: int) -> tuple[tuple[str, int], ...]:
    """The parameter columns of a study whose deepest trial has ``depth_max`` layers,
    each with the layer it needs (0 for a parameter every trial has); worked out once
    per depth, not once per row (the summary of 10,000 trials builds 10,000 rows)."""
    out = []
    for name in _PARAM_ORDER:
        if name.startswith("units") and name[5:].isdigit():
            layer = int(name[5:])
            if layer <= min(depth_max, MAX_DEPTH):
                out.append((name, layer))
        else:
            out.append((name, 0))
    return tuple(out)


def summary_row(r: TrialRecord, depth_max: int) -> dict[str, Any]:
    """One trial's row: parameters (``units1..units{depth_max}``), metrics, state, duration."""
    row: dict[str, Any] = {"trial": r.number, "state": r.state, "label": r.label}
    params = r.params
    if "depth" not in params:
        # A user's own objective: its parameters are whatever it suggested.
        row.update(params)
    else:
        depth = int(params["depth"])
        for name, layer in _param_columns(depth_max):
            row[name] = params.get(name) if layer <= depth else None
    row.update(
        {
            "seed": r.seed,
            "repeat": r.point_key.rsplit("#", 1)[-1] if r.point_key else None,
            "epochs_trained": r.epochs_trained,
            "train_steps": r.train_steps,
            "objective": r.objective,
            "objective_se": r.objective_se,
            "n_val": r.n_val,
            "folds": len(r.folds) if r.folds else None,
        }
    )
    for i, value in enumerate(r.values or []):
        row[f"value_{i}"] = value
    for key, value in r.user_attrs.items():
        row[f"user_attrs_{key}"] = value
    for split in ("val", "test"):
        for key, value in (getattr(r, split) or {}).items():
            row[f"{split}_{key}"] = value
    row.update(
        {
            "duration_s": r.duration_s,
            "group": r.group,
            "group_size": r.group_size,
            "reason": r.reason,
        }
    )
    if r.constraints is not None:
        row["feasible"] = r.feasible
        for i, value in enumerate(r.constraints):
            row[f"constraint_{i}"] = value
    return row


def summary_rows(records: Iterable[TrialRecord]) -> tuple[list[str], list[dict[str, Any]]]:
    """The summary's columns (in order of first appearance) and one row per trial."""
    records = list(records)
    depth_max = max((_depth(r) for r in records), default=1)
    rows = [summary_row(r, depth_max) for r in records]
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns) or ["trial", "state"], rows


def _cell(value: Any) -> str:
    """A CSV cell: empty for missing or NaN, ``repr`` for floats (round-trips exactly)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _csv_lines(columns: list[str], rows: Iterable[dict[str, Any]], header: bool) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buffer.getvalue()


def rewrite_summary(root: Path, records: Iterable[TrialRecord]) -> None:
    """Write ``summary.csv`` from ``records`` (atomically)."""
    columns, rows = summary_rows(sorted(records, key=lambda r: r.number))
    write_text(root / SUMMARY_FILE, _csv_lines(columns, rows, header=True))


# ---- the index ---------------------------------------------------------------------


@contextmanager
def _locked(root: Path) -> Iterator[IO[bytes]]:
    """``index.jsonl`` opened for appending under an exclusive ``flock``."""
    try:
        fh = (root / INDEX_FILE).open("a+b")
    except FileNotFoundError:  # a new study folder: made here, not checked per trial
        root.mkdir(parents=True, exist_ok=True)
        fh = (root / INDEX_FILE).open("a+b")
    with fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield fh
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _runs(numbers: list[int]) -> list[list[int]]:
    """``numbers`` as ``[first, count]`` runs of consecutive numbers."""
    out: list[list[int]] = []
    for n in numbers:
        if out and n == out[-1][0] + out[-1][1]:
            out[-1][1] += 1
        else:
            out.append([n, 1])
    return out


def _pack(data: dict[str, Any]) -> dict[str, Any]:
    """The index line of a record: ``group_members`` as runs (``group_runs``).

    A fused group of 256 trials lists 256 numbers in each member's record;
    as runs the line is a tenth of the size, and reading the index is parsing it.
    """
    members = data.get("group_members")
    if not members:
        return data
    packed = {k: v for k, v in data.items() if k != "group_members"}
    packed["group_runs"] = _runs(list(members))
    return packed


def _unpack(data: dict[str, Any], groups: dict[str, list[int]]) -> dict[str, Any]:
    """An index line back as a record's fields; ``groups`` shares one members list per group."""
    runs = data.pop("group_runs", None)
    if runs is not None:
        key = repr(runs)
        if key not in groups:
            groups[key] = [n for first, count in runs for n in range(first, first + count)]
        data["group_members"] = groups[key]
    return data


def _append_lines(fh: IO[bytes], data: list[dict[str, Any]]) -> None:
    fh.seek(0, io.SEEK_END)
    if fh.tell() > 0:
        fh.seek(-1, io.SEEK_END)
        if fh.read(1) != b"\n":  # a line a crash cut short: end it, readers skip it
            fh.write(b"\n")
    text = "".join(json_line(_pack(d)) + "\n" for d in data)
    fh.write(text.encode("utf-8"))
    fh.flush()


_Stamp = tuple[int, int, int]
_headers: dict[str, tuple[_Stamp, list[str]]] = {}
"""Per summary path: the file's ``(inode, size, mtime_ns)`` after this process last
appended to it, and its header. The same stamp at the next append means no one
touched the file since, so the header is known without opening it."""


def _stamp(path: Path) -> _Stamp | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _summary_header(path: Path) -> list[str] | None:
    stamp = _stamp(path)
    if stamp is None:
        return None
    known = _headers.get(str(path))
    if known is not None and known[0] == stamp:
        return known[1]
    with path.open(encoding="utf-8", newline="") as fh:
        return next(csv.reader(fh), None)


def _append_summary(root: Path, records: list[TrialRecord]) -> None:
    """Append the rows of ``records``, or rewrite the summary when one has a new column."""
    path = root / SUMMARY_FILE
    header = _summary_header(path)
    if header:
        depth_max = max(1, sum(1 for c in header if c.startswith("units") and c[5:].isdigit()))
        known = set(header)
        rows = [summary_row(r, depth_max) for r in records]
        if all(_depth(r) <= depth_max for r in records) and all(set(row) <= known for row in rows):
            with path.open("a", encoding="utf-8", newline="") as fh:
                fh.write(_csv_lines(header, rows, header=False))
            stamp = _stamp(path)
            if stamp is not None:
                _headers[str(path)] = (stamp, header)
            return
    rewrite_summary(root, read_index(root).values())


_STAT = "record_stat"
"""The index line's ``[mtime_ns, size]`` of the ``record.json`` it copies: a reader
that finds the file changed (edited by hand, say) reads the file, not the line."""


def _record_stat(root: Path, number: int) -> list[int] | None:
    try:
        st = os.stat(f"{root}/trials/{trial_name(number)}/record.json")
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


def _index_lines(root: Path, records: list[tuple[TrialRecord, dict[str, Any]]]) -> list[Any]:
    """The index lines of records (each with its ``to_dict()``): the fields and the stat."""
    return [{**d, _STAT: _record_stat(root, r.number)} for r, d in records]


def append_index(root: Path, records: list[tuple[TrialRecord, dict[str, Any]]]) -> None:
    """Append finished trials (each with its ``to_dict()``) to the index and summary."""
    if not records:
        return
    lines = _index_lines(root, records)
    with _locked(root) as fh:
        _append_lines(fh, lines)
        _append_summary(root, [r for r, _ in records])


def index_missing(root: Path, records: list[TrialRecord]) -> None:
    """Append ``records`` (finished, found unindexed) and rewrite the summary from the
    index, both under the index's lock.

    A process appending its batch meanwhile waits for the lock, so its rows are
    neither lost (appended to a summary this rewrite replaces) nor doubled (a
    rewrite that read its trials' folders before it indexed them).
    """
    lines = _index_lines(root, [(r, r.to_dict()) for r in records])
    with _locked(root) as fh:
        if lines:
            _append_lines(fh, lines)
        rewrite_summary(root, read_index(root).values())


def _record(data: dict[str, Any]) -> TrialRecord:
    """A record from an index line's fields; fields it does not know (a newer
    version's) are dropped, which the fast path pays for only when there are some."""
    try:
        return TrialRecord(**data)
    except TypeError:
        return TrialRecord(**{k: v for k, v in data.items() if k in _FIELDS})


def _parsed_lines(raw: bytes) -> list[Any]:
    """Each non-blank line of ``raw`` parsed (``None`` for one that is not JSON).

    Every line whole (the usual case): one ``json.loads`` of the lines as an
    array, a fifth faster than a call per line. Only when that array has one
    element per line is it used; a line a crash cut short makes it fail (or
    merge with the next lines, so fewer elements) and the lines are parsed
    one by one instead.
    """
    lines = [line for line in raw.split(b"\n") if line.strip()]
    try:
        parsed = json.loads(b"[" + b",".join(lines) + b"]")
        if isinstance(parsed, list) and len(parsed) == len(lines):
            return parsed
    except ValueError:
        pass
    out: list[Any] = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append(None)
    return out


def read_index(root: Path) -> dict[int, TrialRecord]:
    """The records ``index.jsonl`` holds, by trial number (a later line wins).

    A line that cannot be read (cut short by a crash), or whose ``record.json``
    no longer has the size and mtime it had when indexed, is left out: the
    caller then reads that trial's ``record.json``, the source of truth.
    """
    path = root / INDEX_FILE
    out: dict[int, TrialRecord] = {}
    groups: dict[str, list[int]] = {}
    stats: dict[int, list[int] | None] = {}
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return out
    for data in _parsed_lines(raw):
        try:
            data = _unpack(data, groups)
            stat = data.pop(_STAT, None)
            record = _record(data)
        except (ValueError, TypeError, AttributeError):
            _log.info("skipping an unreadable line of %s", path)
            continue
        out[record.number] = record
        stats[record.number] = stat
    for number, stat in stats.items():
        if stat is None or _record_stat(root, number) != stat:
            del out[number]
    return out
