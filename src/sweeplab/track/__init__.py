"""Trackers: where finished trials are logged besides the study directory."""

from sweeplab.track._base import Tracker
from sweeplab.track._factory import make_trackers
from sweeplab.track._tensorboard import TensorBoardTracker, architecture

__all__ = ["TensorBoardTracker", "Tracker", "architecture", "make_trackers"]
