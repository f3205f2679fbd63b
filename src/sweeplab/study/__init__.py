"""Running studies: the one loop, its trial sources, and the workflows built on it.

``run``/``join`` drive :class:`~sweeplab.study._loop.Runner` with a trial
source (built-in MLP, model factory, or the user's objective); confirmation,
finalize, reproduce and strategy comparison are workflows over a study
directory.
"""

from sweeplab.study._bridge import (
    fold_members,
    group_data,
    load_study_data,
    member_spec,
    merge_folds,
    resolve_device,
    study_folds,
)
from sweeplab.study._budget import DEFAULT_TRIALS, study_budget
from sweeplab.study._compare import (
    DEFAULT_STRATEGIES,
    compare_plan,
    compare_specs,
    continuous_keys,
    default_strategies,
    load_compare,
    run_compare,
)
from sweeplab.study._events import Callback, RunEvent
from sweeplab.study._finalize import FinalizeError, FinalModel, finalize
from sweeplab.study._interrupt import exit_code, handling_sigint, handling_signals
from sweeplab.study._rebuild import doctor
from sweeplab.study._reproduce import GPU_TOLERANCE, Mismatch, ReproReport, reproduce
from sweeplab.study._run import init_storage, join, make_source, prepare, read_spec, run

__all__ = [
    "DEFAULT_STRATEGIES",
    "DEFAULT_TRIALS",
    "GPU_TOLERANCE",
    "Callback",
    "FinalModel",
    "FinalizeError",
    "Mismatch",
    "ReproReport",
    "RunEvent",
    "compare_plan",
    "compare_specs",
    "continuous_keys",
    "default_strategies",
    "doctor",
    "exit_code",
    "finalize",
    "fold_members",
    "group_data",
    "handling_sigint",
    "handling_signals",
    "init_storage",
    "join",
    "load_compare",
    "load_study_data",
    "make_source",
    "member_spec",
    "merge_folds",
    "prepare",
    "read_spec",
    "reproduce",
    "resolve_device",
    "run",
    "run_compare",
    "study_budget",
    "study_folds",
]
