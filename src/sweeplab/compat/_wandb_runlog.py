"""Reading an offline W&B run's own transaction log (``run-<id>.wandb``) while it grows.

wandb 0.31 writes every run record (history rows, summary updates, exit) to
the transaction log, a LevelDB-style log: a 7-byte header (``:W&B``, magic
``0xBEE1``, version 0), then 32 KiB blocks of records, each ``crc32 (uint32),
length (uint16), type (uint8)`` and data; ``type`` is FULL, FIRST, MIDDLE or
LAST and the checksum is zlib's CRC-32 of the type byte and the data. The data
are ``wandb.proto.wandb_internal_pb2.Record`` messages, parsed with wandb's own
protobuf classes. (wandb's Python ``DataStore`` reader was removed when the
Go core took over writing; this is the same format, read the same way.)

The reader is incremental: :meth:`RunLog.read` returns the history rows
appended since the last call and stops before a record that is not yet
complete, so a run can be followed while it trains and read after a kill.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["RunLog", "find_run_log"]

_HEADER = b":W&B" + struct.pack("<HB", 0xBEE1, 0)
_BLOCK = 32768
_REC = 7
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def find_run_log(wandb_dir: Path, run_id: str) -> Path | None:
    """The transaction log of run ``run_id``: ``<WANDB_DIR>/wandb/*-<id>/run-<id>.wandb``."""
    found = sorted((wandb_dir / "wandb").glob(f"*-{run_id}/run-{run_id}.wandb"))
    return found[-1] if found else None


def _key(item: Any) -> str:
    return str(item.key) if item.key else ".".join(item.nested_key)


@dataclass
class RunLog:
    """An offline run's history and summary, read from its transaction log as it grows."""

    path: Path
    summary: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None
    _offset: int = 0
    _pending: bytes = b""

    def read(self) -> list[dict[str, Any]]:
        """History rows (``{"_step": n, "loss": ...}``) appended since the last call."""
        from wandb.proto import wandb_internal_pb2

        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        if self._offset == 0:
            if len(data) < len(_HEADER):
                return []
            if data[: len(_HEADER)] != _HEADER:
                raise ValueError(
                    f"{self.path} must be a W&B transaction log, but its header differs"
                )
            self._offset = len(_HEADER)
        rows: list[dict[str, Any]] = []
        while True:
            left = _BLOCK - self._offset % _BLOCK
            if left < _REC:  # block trailer: zero padding
                if self._offset + left > len(data):
                    break
                self._offset += left
                continue
            if self._offset + _REC > len(data):
                break
            crc, length, kind = struct.unpack_from("<IHB", data, self._offset)
            end = self._offset + _REC + length
            if end > len(data):
                break
            chunk = data[self._offset + _REC : end]
            if kind == 0 and length == 0 and crc == 0:  # preallocated zeros, not yet written
                break
            if zlib.crc32(chunk, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF != crc:
                raise ValueError(f"{self.path} is corrupt at byte {self._offset} (checksum)")
            self._offset = end
            if kind == _FULL:
                payload = chunk
            elif kind == _FIRST:
                self._pending = chunk
                continue
            elif kind == _MIDDLE:
                self._pending += chunk
                continue
            else:
                payload, self._pending = self._pending + chunk, b""
            record = wandb_internal_pb2.Record()  # type: ignore[attr-defined]
            record.ParseFromString(payload)
            which = record.WhichOneof("record_type")
            if which == "history":
                row = {_key(i): json.loads(i.value_json) for i in record.history.item}
                row.setdefault("_step", int(record.history.step.num))
                rows.append(row)
            elif which == "summary":
                for item in record.summary.update:
                    self.summary[_key(item)] = json.loads(item.value_json)
                for item in record.summary.remove:
                    self.summary.pop(_key(item), None)
            elif which == "exit":
                self.exit_code = int(record.exit.exit_code)
        return rows
