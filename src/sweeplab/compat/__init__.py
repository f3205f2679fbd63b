"""Other tools' file formats: W&B sweep files (YAML) read into sweeplab study specs,
and what W&B's sweep agent does to run a sweep's script (offline)."""

from sweeplab.compat._wandb import load_sweep, sweep_spec
from sweeplab.compat._wandb_agent import DEFAULT_COMMAND, agent_command, agent_env, command_args
from sweeplab.compat._wandb_params import (
    DISTRIBUTIONS,
    SweepConfig,
    grid_space,
    sample_config,
    wandb_objective,
)
from sweeplab.compat._wandb_runlog import RunLog, find_run_log

__all__ = [
    "DEFAULT_COMMAND",
    "DISTRIBUTIONS",
    "RunLog",
    "SweepConfig",
    "agent_command",
    "agent_env",
    "command_args",
    "find_run_log",
    "grid_space",
    "load_sweep",
    "sample_config",
    "sweep_spec",
    "wandb_objective",
]
