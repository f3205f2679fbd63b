"""Build the trackers a study file asks for."""

from __future__ import annotations

from pathlib import Path

from sweeplab.errors import require_extra
from sweeplab.spec import StudySpec
from sweeplab.track._async import AsyncTracker
from sweeplab.track._base import Tracker
from sweeplab.track._events import EventLogTracker
from sweeplab.track._tensorboard import TensorBoardTracker

__all__ = ["make_trackers"]


def make_trackers(
    spec: StudySpec, root: Path, n_features: int | None, n_classes: int | None
) -> list[Tracker]:
    """The event log plus the trackers enabled in ``spec.track``, each on its own thread.

    ``n_features``/``n_classes`` are ``None`` for studies whose trials are the
    user's code (no built-in architecture to describe). A tracker whose extra is missing raises
    :class:`~sweeplab.errors.MissingExtraError` here, before any training.
    """
    track = spec.track
    if track.mlflow is not False:
        require_extra("mlflow", "mlflow", "track.mlflow")
    if track.wandb is not False:
        require_extra("wandb", "wandb", "track.wandb")
    trackers: list[Tracker] = [AsyncTracker(lambda: EventLogTracker(root), "events")]
    if track.tensorboard:
        trackers.append(
            AsyncTracker(
                lambda: TensorBoardTracker(root / "tensorboard", n_features, n_classes),
                "tensorboard",
            )
        )
    if track.mlflow is not False:
        from sweeplab.track._mlflow import MLflowTracker

        uri = track.mlflow if isinstance(track.mlflow, str) else None
        trackers.append(
            AsyncTracker(
                lambda: MLflowTracker(spec, root, n_features, n_classes, tracking_uri=uri),
                "mlflow",
            )
        )
    if track.wandb is not False:
        from sweeplab.track._wandb import WandbTracker

        mode = "online" if track.wandb == "online" else "offline"
        trackers.append(
            AsyncTracker(
                lambda: WandbTracker(spec, root, n_features, n_classes, mode=mode), "wandb"
            )
        )
    return trackers
