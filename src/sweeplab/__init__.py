"""sweeplab: reproducible hyperparameter studies on PyTorch models.

The public API is small: :func:`load_spec` reads a study file, :func:`run`
runs or resumes it, :func:`load_study` reads a finished study back. Everything
else is private and may change.

The three functions are imported on first use (module ``__getattr__``), not
here: ``import sweeplab.cli`` (and so ``sweeplab --help``) imports this package
first, and must not pay for torch, scikit-learn, pandas and Optuna up front.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from sweeplab.errors import DataError, SpecError, StudyError, SweeplabError

if TYPE_CHECKING:
    from sweeplab.spec import load_spec
    from sweeplab.store import load_study
    from sweeplab.study import run

    __version__: str

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

#: Public name -> the room that owns it, imported when the name is first used.
_LAZY = {"load_spec": "sweeplab.spec", "load_study": "sweeplab.store", "run": "sweeplab.study"}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sweeplab")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def __getattr__(name: str) -> Any:
    """Import ``load_spec``, ``load_study`` and ``run`` from their rooms on first use (and
    read ``__version__``, whose metadata lookup alone costs ~50 ms, on first use too)."""
    if name in _LAZY or name == "__version__":
        value = _version() if name == "__version__" else getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sweeplab' has no attribute {name!r}")
