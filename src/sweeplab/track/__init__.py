"""Trackers: where trials are logged besides the study directory.

Every tracker runs on its own background thread (:class:`AsyncTracker`), so
the fused engine never waits on it. The event log is always on; TensorBoard
is on by default; MLflow and W&B need their extras.
"""

from sweeplab.track._arch import architecture, architecture_table
from sweeplab.track._async import AsyncTracker
from sweeplab.track._base import Tracker
from sweeplab.track._dashboard import dashboard_server
from sweeplab.track._events import EVENTS_FILE, EventLogTracker, LiveTrial, read_live
from sweeplab.track._factory import make_trackers
from sweeplab.track._tensorboard import OBJECTIVE_TAG, SCALAR_TAGS, TensorBoardTracker

__all__ = [
    "EVENTS_FILE",
    "OBJECTIVE_TAG",
    "SCALAR_TAGS",
    "AsyncTracker",
    "EventLogTracker",
    "LiveTrial",
    "TensorBoardTracker",
    "Tracker",
    "architecture",
    "architecture_table",
    "dashboard_server",
    "make_trackers",
    "read_live",
]
