"""The engine: trains a group of trials as one stacked model.

There is one trainer. A single trial is a group of one.
"""

from sweeplab.engine._functional import structure_key, train_modules
from sweeplab.engine._member import MemberResult, MemberSpec, derive_seed
from sweeplab.engine._metrics import METRIC_NAMES, metrics_from_confusion
from sweeplab.engine._optim import OPTIMIZERS, make_optimizer
from sweeplab.engine._trainer import EndCallback, EpochCallback, GroupData, train_group

__all__ = [
    "METRIC_NAMES",
    "OPTIMIZERS",
    "EndCallback",
    "EpochCallback",
    "GroupData",
    "MemberResult",
    "MemberSpec",
    "derive_seed",
    "make_optimizer",
    "metrics_from_confusion",
    "structure_key",
    "train_group",
    "train_modules",
]
