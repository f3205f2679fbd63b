"""sweeplab: reproducible hyperparameter studies on PyTorch models.

The public API is small: :func:`load_spec` reads a study file, :func:`run`
runs or resumes it, :func:`load_study` reads a finished study back. Everything
else is private and may change.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from sweeplab.errors import DataError, SpecError, StudyError, SweeplabError
from sweeplab.spec import load_spec
from sweeplab.store import load_study
from sweeplab.study import run

try:
    __version__ = version("sweeplab")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "DataError",
    "SpecError",
    "StudyError",
    "SweeplabError",
    "__version__",
    "load_spec",
    "load_study",
    "run",
]
