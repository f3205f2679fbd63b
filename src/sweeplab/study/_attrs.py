"""The user attributes sweeplab keeps on each Optuna trial (one place, read by every module)."""

from __future__ import annotations

__all__ = [
    "ATTR_CONFIG",
    "ATTR_INTERRUPTED",
    "ATTR_OWNER",
    "ATTR_POINT",
    "ATTR_REASON",
    "ATTR_SEED",
]

#: The trial's flat training parameters (``TrainParams.flat()``).
ATTR_CONFIG = "sweeplab.config"
#: The trial's seed.
ATTR_SEED = "sweeplab.seed"
#: The key of the planned point a trial runs (``None`` for sampled trials).
ATTR_POINT = "sweeplab.point"
#: The process (``host:pid:token``) that owns a RUNNING trial.
ATTR_OWNER = "sweeplab.owner"
#: Set on a FAIL trial that was interrupted: it does not count and runs again.
ATTR_INTERRUPTED = "sweeplab.interrupted"
#: Why a trial failed.
ATTR_REASON = "sweeplab.reason"
