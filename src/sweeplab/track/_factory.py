"""Build the trackers a study file asks for."""

from __future__ import annotations

from pathlib import Path

from sweeplab.spec import StudySpec
from sweeplab.track._base import Tracker
from sweeplab.track._tensorboard import TensorBoardTracker

__all__ = ["make_trackers"]


def make_trackers(spec: StudySpec, root: Path, n_features: int, n_classes: int) -> list[Tracker]:
    """The trackers enabled in ``spec.track``, writing under the study directory ``root``."""
    trackers: list[Tracker] = []
    if spec.track.tensorboard:
        trackers.append(TensorBoardTracker(root / "tensorboard", n_features, n_classes))
    return trackers
