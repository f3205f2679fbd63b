"""The engine: trains a group of trials as one stacked model.

There is one trainer. A single trial is a group of one.
"""

from sweeplab.engine._calibrate import Calibration, calibration, step_work
from sweeplab.engine._data import GroupData
from sweeplab.engine._device import (
    configure_device,
    cpu_threads,
    flush_denormals,
    other_load,
    thread_count,
)
from sweeplab.engine._epochs import EndCallback, EpochCallback
from sweeplab.engine._functional import structure_key, train_modules
from sweeplab.engine._lanes import LaneJob, lane_groups, train_in_lanes
from sweeplab.engine._member import MemberResult, MemberSpec, derive_seed
from sweeplab.engine._metrics import METRIC_NAMES, metrics_from_confusion
from sweeplab.engine._mlp import ACTIVATION_FUNCTIONS
from sweeplab.engine._optim import OPTIMIZERS, make_optimizer
from sweeplab.engine._plan import CPU_WORKING_SET, group_cap, plan_groups, step_overhead
from sweeplab.engine._retry import train_group_splitting
from sweeplab.engine._trainer import train_group

__all__ = [
    "ACTIVATION_FUNCTIONS",
    "CPU_WORKING_SET",
    "METRIC_NAMES",
    "OPTIMIZERS",
    "Calibration",
    "EndCallback",
    "EpochCallback",
    "GroupData",
    "LaneJob",
    "MemberResult",
    "MemberSpec",
    "calibration",
    "configure_device",
    "cpu_threads",
    "derive_seed",
    "flush_denormals",
    "group_cap",
    "lane_groups",
    "make_optimizer",
    "metrics_from_confusion",
    "other_load",
    "plan_groups",
    "step_overhead",
    "step_work",
    "structure_key",
    "thread_count",
    "train_group",
    "train_group_splitting",
    "train_in_lanes",
    "train_modules",
]
