"""Where and with what a study ran: versions, hardware, git state, data."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from sweeplab.errors import StudyError
from sweeplab.store._files import write_json

__all__ = ["collect_provenance", "provenance_n_val", "read_provenance", "write_provenance"]

_PACKAGES = ("sweeplab", "torch", "optuna", "numpy", "pandas", "scikit-learn", "pydantic")


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(cwd: Path) -> dict[str, Any] | None:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
        if commit.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def source_digest() -> str:
    """SHA-256 over sweeplab's own source files, so a code change is visible
    even when the version number is not bumped."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def collect_provenance(
    *, seed: int, data: dict[str, Any], device: str, cwd: Path | None = None
) -> dict[str, Any]:
    """A JSON-ready record of the environment a study runs in."""
    import torch  # only a run collects provenance; readers of a study do not need torch

    gpu = None
    if torch.cuda.is_available():
        gpu = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": {
            "python": platform.python_version(),
            **{name: _version(name) for name in _PACKAGES},
            "sweeplab_source": source_digest(),
        },
        "platform": {
            "os": platform.platform(),
            "machine": platform.machine(),
            "cpu": _cpu_model(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "gpu": gpu,
            "device": device,
        },
        "git": _git(cwd or Path.cwd()),
        "seed": seed,
        "data": data,
    }


def read_provenance(path: Path) -> dict[str, Any]:
    """``provenance.json`` as a dict; a missing or unreadable file is a ``StudyError``."""
    if not path.exists():
        raise StudyError(f"study directory must hold provenance.json, but {path} was not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StudyError(
            f"{path} must be the study's provenance JSON, but cannot be read: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise StudyError(f"{path} must hold a JSON object, but does not")
    return data


def provenance_n_val(path: Path) -> int | None:
    """``data.n_val`` from a study's ``provenance.json`` (``None`` when missing)."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        value = data.get("data", {}).get("n_val")
    except (OSError, ValueError, AttributeError):
        return None
    return int(value) if isinstance(value, int) and value > 0 else None


def write_provenance(path: Path, provenance: dict[str, Any]) -> None:
    """Write ``provenance.json`` once: an existing file (the study's first run) is kept."""
    if not path.exists():
        write_json(path, provenance)
