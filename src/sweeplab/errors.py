"""The exceptions sweeplab raises.

Every error a user can cause derives from :class:`SweeplabError`. The CLI turns
them into one readable line and an exit code: 2 for bad input (a study file,
a data file, a command-line value), 1 for a run that failed.
"""

from __future__ import annotations

__all__ = [
    "ClusterLostError",
    "DataError",
    "DiskFullError",
    "MissingExtraError",
    "RefusedError",
    "SpecError",
    "StudyError",
    "SweeplabError",
    "require_extra",
]


class SweeplabError(Exception):
    """Root of every error sweeplab raises on purpose."""

    exit_code: int = 1


class SpecError(SweeplabError):
    """The study file or a ``--set`` override is malformed."""

    exit_code = 2


class DataError(SweeplabError):
    """A dataset cannot be read, verified or split."""

    exit_code = 2


class StudyError(SweeplabError):
    """A study directory or its storage is missing, inconsistent or busy."""


class DiskFullError(StudyError):
    """A study stopped because its disk is full; finished trials are kept and it resumes."""


class ClusterLostError(StudyError):
    """The Ray cluster of a run is gone (its head cannot be reached); the study resumes."""


class RefusedError(StudyError):
    """A command cannot do what was asked of this study (exit code 2), said in one line.

    For example ``reproduce`` of a study whose trials are the user's own
    objective: sweeplab did not train them, so it cannot re-train them.
    """

    exit_code = 2


class MissingExtraError(SweeplabError):
    """A feature needs an optional dependency that is not installed."""

    exit_code = 2


def require_extra(module: str, extra: str, feature: str) -> None:
    """Raise :class:`MissingExtraError` naming the ``pip install`` when ``module`` is missing."""
    import importlib.util

    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise MissingExtraError(
            f"{feature} needs the {module!r} package, but it is not installed: "
            f"pip install 'sweeplab[{extra}]'"
        )
