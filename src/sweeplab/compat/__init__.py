"""Other tools' file formats: W&B sweep files (YAML) read into sweeplab study specs."""

from sweeplab.compat._wandb import load_sweep, sweep_spec
from sweeplab.compat._wandb_params import DISTRIBUTIONS, SweepConfig, grid_space, wandb_objective

__all__ = [
    "DISTRIBUTIONS",
    "SweepConfig",
    "grid_space",
    "load_sweep",
    "sweep_spec",
    "wandb_objective",
]
